import Foundation
import NodeList
import StoreTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Issue 20, the command: --version, --output table|json (decoded with Codable), typed enum flags,
// the version in `list`, `health`, `list --raw`, the exit statuses, the store variables.

/// What the command prints, decoded the way a script would (the test's own Codable types, so a
/// renamed or retyped field fails here).
enum Printed {
    struct Node: Decodable, Equatable {
        var name: String
        var address: String
        var incarnation: String
        var joinedAt: String
        var metadata: [String: String]
    }

    struct List: Decodable {
        var format: Int
        var nodes: [Node]
        var version: UInt64?
    }

    struct Join: Decodable {
        var seed: Node?
        var swept: [Node]
        var nodes: [Node]
        var attempts: Int
        var created: Bool
        var isolated: Bool
        var responsive: Int
        var listed: Int
    }

    struct Sweep: Decodable {
        var swept: [Node]
        var nodes: [Node]
    }

    struct Leave: Decodable {
        var removed: Bool
    }

    struct Raw: Decodable {
        var key: String
        var version: UInt64
        var size: Int
        var base64: String
        var utf8: String?
    }

    struct Health: Decodable {
        struct Endpoint: Decodable {
            struct Etcd: Decodable {
                var version: String
                var memberID: String
                var clusterID: String
                var leader: String
                var raftTerm: UInt64
                var isLeader: Bool
            }
            var endpoint: String
            var store: String
            var healthy: Bool
            var connectMilliseconds: Double?
            var readMilliseconds: Double?
            var error: String?
            var etcd: Etcd?
        }
        var healthy: Bool
        var endpoints: [Endpoint]
    }

    static func decode<T: Decodable>(_ type: T.Type, _ result: CommandRunner.Result) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(result.stdout.utf8))
        } catch {
            throw CommandRunner.Failure(description: "not a \(T.self): \(error); stdout: \(result.stdout); stderr: \(result.stderr)")
        }
    }
}

/// The store variables blanked (the test process itself has ZOOKEEPER_CONNECT, maybe
/// CONSUL_HTTP_ADDR), so that a run sees only the ones a test sets; an empty value counts as unset.
let noStoreVariables: [String: String] = [
    "AUTOCLUSTER_STORE": "", "ETCDCTL_ENDPOINTS": "", "CONSUL_HTTP_ADDR": "", "ZOOKEEPER_CONNECT": "",
]

/// The command's own answers that need no store.
@Suite struct CommandInterfaceTests {
    @Test func versionPrintsTheVersionAndExitsZero() async throws {
        let result = try await CommandRunner.run(["--version"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "0.1.0\n")
        #expect(result.stderr.isEmpty)
    }

    @Test func helpDocumentsTheExitStatusesAndTheStoreVariables() async throws {
        let result = try await CommandRunner.run(["--help"])
        #expect(result.status == 0)
        for text in ["EXIT STATUS", "64 ", "65 ", "66 ", "69 ", "75 ", "77 ", "130",
                     "ETCDCTL_ENDPOINTS", "CONSUL_HTTP_ADDR", "ZOOKEEPER_CONNECT", "--output"] {
            #expect(result.stdout.contains(text), "--help does not mention \(text)")
        }
        let list = try await CommandRunner.run(["list", "--help"])
        #expect(list.stdout.contains("--output <output>") && list.stdout.contains("--raw"), "\(list.stdout)")
        #expect(!list.stdout.contains("--json"), "the deprecated --json is hidden")
    }

    @Test("a value outside an enum flag's cases: exit 64, one line naming the flag and the value", arguments: [
        (["--output", "yaml"], "--output", "yaml"),
        (["--log-level", "loud"], "--log-level", "loud"),
        (["--probe", "ftp"], "--probe", "ftp"),
    ])
    func enumFlagsRejectBadValues(_ bad: [String], _ flag: String, _ value: String) async throws {
        let arguments = ["join", "--store", "etcd://127.0.0.1:1", "--key", "/a", "--name", "n", "--address", "127.0.0.1:1"]
        let result = try await CommandRunner.run(arguments + bad)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(flag) && result.stderr.contains(value), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func completionOffersTheEnumValues() async throws {
        let result = try await CommandRunner.run(["--generate-completion-script", "bash"])
        #expect(result.status == 0)
        // bash's word lists: 'a'$'\n''b'
        func words(_ values: [String]) -> String { values.map { "'\($0)'" }.joined(separator: "$'\\n'") }
        #expect(result.stdout.contains(words(["table", "json"])), "no value list for --output")
        #expect(result.stdout.contains(words(["trace", "debug", "info", "notice", "warning", "error", "critical"])),
                "no value list for --log-level")
        #expect(result.stdout.contains(words(["tcp", "http:/", "none"])), "no value list for --probe")
    }

    @Test func jsonAndOutputTableTogetherAreAUsageError() async throws {
        let result = try await CommandRunner.run(["list", "--store", "etcd://127.0.0.1:1", "--key", "/a", "--json", "--output", "table"])
        #expect(result.status == 64)
        #expect(result.stderrLines.count == 1 && result.stderr.contains("--output table"), "\(result.stderr)")
    }

    @Test func twoStoreVariablesAndNoStoreIsOneErrorNamingThem() async throws {
        var environment = noStoreVariables
        environment["ETCDCTL_ENDPOINTS"] = "http://127.0.0.1:1"
        environment["CONSUL_HTTP_ADDR"] = "127.0.0.1:1"
        let result = try await CommandRunner.run(["list", "--key", "/a"], environment: environment)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("ETCDCTL_ENDPOINTS and CONSUL_HTTP_ADDR are both set") && result.stderr.contains("--store"),
                "\(result.stderr)")
        let health = try await CommandRunner.run(["health"], environment: environment)
        #expect(health.status == 64 && health.stderrLines.count == 1, "\(health.stderr)")
        // --store chooses: the variables no longer matter.
        let chosen = try await CommandRunner.run(["list", "--key", "/a", "--store", "nope://x"], environment: environment)
        #expect(chosen.status == 64 && chosen.stderr.contains("nope"), "\(chosen.stderr)")
    }

    @Test func noStoreAtAllNamesEveryWayToGiveOne() async throws {
        let result = try await CommandRunner.run(["list", "--key", "/a"], environment: noStoreVariables)
        #expect(result.status == 64)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        for name in ["--store", "AUTOCLUSTER_STORE", "ETCDCTL_ENDPOINTS", "CONSUL_HTTP_ADDR", "ZOOKEEPER_CONNECT"] {
            #expect(result.stderr.contains(name), "\(result.stderr)")
        }
    }

    @Test func aMalformedStoreVariableIsNamed() async throws {
        var environment = noStoreVariables
        environment["ETCDCTL_ENDPOINTS"] = "http://127.0.0.1:1,https://127.0.0.1:2"
        let mixed = try await CommandRunner.run(["list", "--key", "/a"], environment: environment)
        #expect(mixed.status == 64 && mixed.stderrLines.count == 1 && mixed.stderr.contains("$ETCDCTL_ENDPOINTS"), "\(mixed.stderr)")
        environment["ETCDCTL_ENDPOINTS"] = "unix:///run/etcd.sock"
        let unix = try await CommandRunner.run(["list", "--key", "/a"], environment: environment)
        #expect(unix.status == 64 && unix.stderrLines.count == 1 && unix.stderr.contains("$ETCDCTL_ENDPOINTS"), "\(unix.stderr)")
    }

    @Test func healthOnADeadPortIsUnhealthyWithExit69AndOneLine() async throws {
        let dead = try await LoopbackListener.deadAddress()
        for scheme in ["etcd", "zookeeper", "consul"] {
            let result = try await CommandRunner.run(
                ["health", "--store", "\(scheme)://\(dead)", "--timeout", "3s", "--output", "json"], timeout: .seconds(30))
            #expect(result.status == 69, "\(scheme): \(result.stderr)")
            #expect(result.stderrLines.count == 1, "\(scheme): \(result.stderr)")
            #expect(result.stderr.hasPrefix("autocluster: error: \(dead) is unhealthy"), "\(scheme): \(result.stderr)")
            #expect(!result.stderr.contains("scripts/"), "an error points at this repository's scripts: \(result.stderr)")
            #expect(result.stderr.components(separatedBy: " — ").count == 2, "one piece of advice: \(result.stderr)")
            let report = try Printed.decode(Printed.Health.self, result)
            #expect(report.healthy == false)
            #expect(report.endpoints.map(\.endpoint) == [dead])
            #expect(report.endpoints.first?.healthy == false && report.endpoints.first?.error != nil)
            #expect(report.endpoints.first?.readMilliseconds == nil)
        }
    }

    @Test func aStoreThatIsNotThereExits69() async throws {
        let dead = try await LoopbackListener.deadAddress()
        for scheme in ["etcd", "zookeeper", "consul"] {
            let result = try await CommandRunner.run(["list", "--store", "\(scheme)://\(dead)", "--key", "/a"], timeout: .seconds(30))
            #expect(result.status == 69, "\(scheme): \(result.stderr)")
            #expect(result.stderrLines.count == 1 && result.stderr.contains(dead), "\(scheme): \(result.stderr)")
            #expect(!result.stderr.contains("scripts/"), "an error points at this repository's scripts: \(result.stderr)")
        }
    }
}

/// The same against the real stores (Consul: the in-test stand-in unless CONSUL_HTTP_ADDR is set).
@Suite(.enabled(if: StoreKind.allEnabled, "needs ZOOKEEPER_CONNECT and ETCD_ENDPOINTS (scripts/test.sh)"))
struct CommandOutputTests {
    @Test(arguments: StoreKind.available)
    func everySubcommandsJSONDecodes(_ kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { Task { await fixture.shutdown() } }
        let (url, key) = (fixture.storeURL, fixture.key)
        let live = try await LoopbackListener.start()
        defer { Task { await live.close() } }
        let dead = try await LoopbackListener.deadAddress()
        let base = ["--store", url, "--key", key]

        let empty = try await CommandRunner.run(["list"] + base + ["--output", "json"])
        #expect(empty.status == 0, "\(empty.stderr)")
        let nothing = try Printed.decode(Printed.List.self, empty)
        #expect(nothing.format == 1 && nothing.nodes.isEmpty && nothing.version == nil)
        #expect(empty.stdout.contains("\"version\":null"), "an absent list says version null: \(empty.stdout)")

        let watch = try CommandRunner.start(["watch"] + base + ["--output", "json"])
        defer { watch.signal(SIGKILL); Task { _ = try? await watch.wait() } }

        let first = try await CommandRunner.run(
            ["join"] + base + ["--name", "n1", "--address", live.address, "--metadata", "zone=a", "--output", "json"])
        #expect(first.status == 0, "\(first.stderr)")
        let created = try Printed.decode(Printed.Join.self, first)
        #expect(created.created && created.seed == nil && created.nodes.map(\.name) == ["n1"])
        #expect(created.nodes.first?.metadata == ["zone": "a"] && created.nodes.first?.address == live.address)
        #expect(first.stdout.contains("\"seed\":null"))

        let second = try await CommandRunner.run(["join"] + base + ["--name", "n2", "--address", dead, "--probe", "none", "--output", "json"])
        let joined = try Printed.decode(Printed.Join.self, second)
        #expect(!joined.created && joined.seed?.name == "n1" && joined.nodes.map(\.name) == ["n1", "n2"])
        #expect(joined.attempts >= 1 && joined.listed == 2 && !joined.isolated)

        // list: the version is the store's own version of the value.
        let stored = try #require(try await fixture.backend().read(key: key))
        let listed = try Printed.decode(Printed.List.self, try await CommandRunner.run(["list"] + base + ["--output", "json"]))
        #expect(listed.version == stored.version)
        #expect(listed.nodes.map(\.name) == ["n1", "n2"])
        #expect(listed.nodes.first == created.nodes.first, "list and join print a node alike")
        // The deprecated --json is --output json.
        let legacy = try await CommandRunner.run(["list"] + base + ["--json"])
        let current = try await CommandRunner.run(["list"] + base + ["--output", "json"])
        #expect(legacy.status == 0 && legacy.stdout == current.stdout)
        // The table: a version line, the header, a row per node.
        let table = try await CommandRunner.run(["list"] + base + ["--output", "table"])
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.first.map(String.init) == "\(key) version \(stored.version)", "\(table.stdout)")
        #expect(lines.count == 4 && lines[1].hasPrefix("#") && lines[2].contains("n1") && lines[3].contains("n2"), "\(table.stdout)")
        let byDefault = try await CommandRunner.run(["list"] + base)
        #expect(byDefault.stdout == table.stdout, "table is the default")

        let sweep = try await CommandRunner.run(["sweep"] + base + ["--as", "n1", "--sweep-grace", "0s", "--output", "json"])
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let swept = try Printed.decode(Printed.Sweep.self, sweep)
        #expect(swept.swept.isEmpty && swept.nodes.map(\.name) == ["n1", "n2"], "one vote of two is no majority")

        let leave = try await CommandRunner.run(["leave"] + base + ["--name", "n2", "--output", "json"])
        #expect(try Printed.decode(Printed.Leave.self, leave).removed == true)
        let again = try await CommandRunner.run(["leave"] + base + ["--name", "n2", "--output", "json"])
        #expect(try Printed.decode(Printed.Leave.self, again).removed == false)

        // watch: one decodable line per change it was told of, ending with the list after the leave.
        try await waitFor(timeout: .seconds(20)) {
            let last = watch.stdout.split(separator: "\n").last.map(String.init) ?? ""
            return (try? JSONDecoder().decode(Printed.List.self, from: Data(last.utf8)))?.nodes.map(\.name) == ["n1"]
        }
        for line in watch.stdout.split(separator: "\n") {
            let decoded = try JSONDecoder().decode(Printed.List.self, from: Data(line.utf8))
            #expect(decoded.format == 1)
        }
    }

    @Test(arguments: StoreKind.available)
    func rawDumpPrintsTheExactBytesOfACorruptValue(_ kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { Task { await fixture.shutdown() } }
        let backend = try await fixture.backend()
        let base = ["--store", fixture.storeURL, "--key", fixture.key]

        let missing = try await CommandRunner.run(["list"] + base + ["--raw"])
        #expect(missing.status == 66, "\(missing.stderr)")
        #expect(missing.stderrLines.count == 1 && missing.stderr.contains(fixture.key) && missing.stdout.isEmpty, "\(missing.stderr)")

        let corrupt = Array("{\"format\":1,\"nodes\":[{\"name\":42}]} \u{1b}[2J trailing".utf8)
        _ = try await backend.createIfAbsent(key: fixture.key, value: corrupt)
        let stored = try #require(try await backend.read(key: fixture.key))

        let list = try await CommandRunner.run(["list"] + base)
        #expect(list.status == 65, "a corrupt value is exit 65: \(list.stderr)")
        #expect(list.stderrLines.count == 1 && list.stderr.contains("list --raw"), "\(list.stderr)")

        let raw = try await CommandRunner.run(["list"] + base + ["--raw"])
        #expect(raw.status == 0, "\(raw.stderr)")
        #expect(Array(raw.stdout.utf8) == corrupt, "the exact bytes, no newline added")

        let json = try Printed.decode(Printed.Raw.self, try await CommandRunner.run(["list"] + base + ["--raw", "--output", "json"]))
        #expect(json.key == fixture.key && json.version == stored.version && json.size == corrupt.count)
        #expect(Data(base64Encoded: json.base64).map(Array.init) == corrupt)
        #expect(json.utf8.map { Array($0.utf8) } == corrupt)
        #expect(try await backend.read(key: fixture.key) == stored, "reading changed nothing")
    }

    @Test(arguments: StoreKind.available)
    func rawDumpOfBytesThatAreNotUTF8(_ kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { Task { await fixture.shutdown() } }
        let backend = try await fixture.backend()
        let bytes: [UInt8] = [0x7b, 0xff, 0x00, 0xc3, 0x28, 0x0a, 0x80]
        _ = try await backend.createIfAbsent(key: fixture.key, value: bytes)
        let stored = try #require(try await backend.read(key: fixture.key))
        let result = try await CommandRunner.run(["list", "--store", fixture.storeURL, "--key", fixture.key, "--raw", "--output", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try Printed.decode(Printed.Raw.self, result)
        #expect(Data(base64Encoded: json.base64).map(Array.init) == bytes)
        #expect(json.utf8 == nil && json.size == bytes.count && json.version == stored.version)
    }

    @Test(arguments: StoreKind.available)
    func healthOnALiveStore(_ kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { Task { await fixture.shutdown() } }
        let url = try StoreURL(parsing: fixture.storeURL)
        let result = try await CommandRunner.run(["health", "--store", fixture.storeURL, "--output", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        let report = try Printed.decode(Printed.Health.self, result)
        #expect(report.healthy)
        #expect(report.endpoints.map(\.endpoint) == url.hosts)
        for endpoint in report.endpoints {
            #expect(endpoint.healthy && endpoint.error == nil && endpoint.store == url.kind.rawValue)
            #expect((endpoint.readMilliseconds ?? -1) >= 0 && (endpoint.connectMilliseconds ?? -1) >= 0)
            if kind == .etcd {
                let etcd = try #require(endpoint.etcd, "etcd reports its member")
                #expect(!etcd.version.isEmpty && etcd.memberID != "0" && etcd.raftTerm >= 1)
            } else {
                #expect(endpoint.etcd == nil)
            }
        }
        let table = try await CommandRunner.run(["health", "--store", fixture.storeURL])
        #expect(table.status == 0, "\(table.stderr)")
        let rows = table.stdout.split(separator: "\n")
        #expect(rows.first?.hasPrefix("ENDPOINT") == true && rows.count == url.hosts.count + 1, "\(table.stdout)")
        #expect(rows.dropFirst().allSatisfy { $0.contains(" healthy ") }, "\(table.stdout)")
    }

    /// The store's own variable, as etcdctl / consul / the ZooKeeper tools are pointed at it.
    static func variable(_ fixture: StoreFixture) throws -> (String, String) {
        let url = try StoreURL(parsing: fixture.storeURL)
        switch fixture.kind {
        case .etcd: return ("ETCDCTL_ENDPOINTS", url.hosts.map { "http://" + $0 }.joined(separator: ","))
        case .consul: return ("CONSUL_HTTP_ADDR", "http://" + url.hosts[0])
        case .zooKeeper: return ("ZOOKEEPER_CONNECT", url.zooKeeperConnectString)
        }
    }

    @Test(arguments: StoreKind.available)
    func withoutStoreTheStoresOwnVariableIsUsed(_ kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { Task { await fixture.shutdown() } }
        var environment = noStoreVariables
        let (name, value) = try Self.variable(fixture)
        environment[name] = value
        let join = try await CommandRunner.run(
            ["join", "--key", fixture.key, "--name", "env1", "--address", "127.0.0.1:1", "--probe", "none", "--output", "json"],
            environment: environment)
        #expect(join.status == 0, "\(name)=\(value): \(join.stderr)")
        // Written where the variable points: read back through the fixture's own client.
        let stored = try #require(try await fixture.backend().read(key: fixture.key))
        #expect(try NodeListDocument.decode(stored.bytes, version: stored.version).nodes.map(\.name) == ["env1"])
        let health = try await CommandRunner.run(["health", "--output", "json"], environment: environment)
        #expect(health.status == 0, "\(health.stderr)")
        #expect(try Printed.decode(Printed.Health.self, health).endpoints.map(\.store) == [kind.rawValue])
        // $AUTOCLUSTER_STORE wins over the store's variable.
        environment["AUTOCLUSTER_STORE"] = "etcd://127.0.0.1:99999"
        let overridden = try await CommandRunner.run(["list", "--key", fixture.key], environment: environment)
        #expect(overridden.status == 64 && overridden.stderr.contains("99999"), "\(overridden.stderr)")
    }
}

/// `lock` and `elect` choose their store the same way.
@Suite(.enabled(if: StoreKind.etcd.enabled, "needs ETCD_ENDPOINTS (scripts/test.sh)"))
struct CommandCoordinationVariableTests {
    @Test func electObservesTheStoreNamedByETCDCTLEndpoints() async throws {
        var environment = noStoreVariables
        environment["ETCDCTL_ENDPOINTS"] = try TestStores.require(TestStores.etcdEndpoints, "ETCD_ENDPOINTS").joined(separator: ",")
        let key = "/autocluster-test/\(UUID().uuidString.lowercased())/env-elect"
        let observer = try CommandRunner.start(["elect", key, "--observe"], environment: environment)
        defer { observer.signal(SIGKILL); Task { _ = try? await observer.wait() } }
        try await waitFor(timeout: .seconds(20)) { observer.stdout.contains("no leader") }
        let lock = try await CommandRunner.run(["lock", key + "-lock", "--", "sh", "-c", "exit 7"], environment: environment)
        #expect(lock.status == 7, "lock runs the command on the store of ETCDCTL_ENDPOINTS and exits with its status: \(lock.stderr)")
        observer.signal(SIGTERM)
        let result = try await observer.wait(timeout: .seconds(10))
        #expect(result.status == 0, "\(result.stderr)")
    }
}

/// etcdctl's TLS and user variables against the TLS and the authenticating etcd (skipped when
/// those stores are not configured).
@Suite struct CommandEtcdctlVariableTests {
    static let tlsEndpoint = TestStores.environment("ETCD_TLS_ENDPOINT")
    static let tlsDirectory = TestStores.environment("AUTOCLUSTER_TLS_DIR")
    static let authEndpoint = TestStores.environment("ETCD_AUTH_ENDPOINT")
    static let authUser = TestStores.environment("ETCD_AUTH_USER")
    static let authPasswordFile = TestStores.environment("ETCD_AUTH_PASSWORD_FILE")

    @Test(.enabled(if: tlsEndpoint != nil && tlsDirectory != nil, "needs ETCD_TLS_ENDPOINT and AUTOCLUSTER_TLS_DIR"))
    func etcdctlCACertIsUsedForHTTPSEndpoints() async throws {
        var environment = noStoreVariables
        environment["ETCDCTL_ENDPOINTS"] = Self.tlsEndpoint!
        let key = "/autocluster-test/\(UUID().uuidString.lowercased())/env-tls"
        let untrusted = try await CommandRunner.run(["list", "--key", key], environment: environment)
        #expect(untrusted.status != 0 && untrusted.stderrLines.count == 1, "without ETCDCTL_CACERT the server is not trusted: \(untrusted.stderr)")
        environment["ETCDCTL_CACERT"] = Self.tlsDirectory! + "/ca.pem"
        let trusted = try await CommandRunner.run(["list", "--key", key, "--output", "json"], environment: environment)
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(try Printed.decode(Printed.List.self, trusted).nodes.isEmpty)
    }

    @Test(.enabled(if: tlsEndpoint != nil && tlsDirectory != nil, "needs ETCD_TLS_ENDPOINT and AUTOCLUSTER_TLS_DIR"))
    func aSchemelessEndpointUsesTLSWhenATLSVariableIsSet() async throws {
        var environment = noStoreVariables
        // As etcdctl and EtcdClient.Configuration.fromEnvironment() read it: HOST:PORT with ETCDCTL_CACERT is TLS.
        environment["ETCDCTL_ENDPOINTS"] = String(Self.tlsEndpoint!.dropFirst("https://".count))
        environment["ETCDCTL_CACERT"] = Self.tlsDirectory! + "/ca.pem"
        let key = "/autocluster-test/\(UUID().uuidString.lowercased())/env-tls-bare"
        let trusted = try await CommandRunner.run(["list", "--key", key, "--output", "json"], environment: environment)
        #expect(trusted.status == 0, "\(trusted.stderr)")
        // http:// still means plaintext, whatever the TLS variables say: the TLS member refuses it.
        environment["ETCDCTL_ENDPOINTS"] = "http://" + String(Self.tlsEndpoint!.dropFirst("https://".count))
        let plain = try await CommandRunner.run(["list", "--key", key], environment: environment)
        #expect(plain.status == 69, "\(plain.stderr)")
    }

    @Test(.enabled(if: authEndpoint != nil && authUser != nil && authPasswordFile != nil,
                   "needs ETCD_AUTH_ENDPOINT, ETCD_AUTH_USER and ETCD_AUTH_PASSWORD_FILE"))
    func etcdctlUserIsUsedAndItsPasswordNeverPrinted() async throws {
        let password = try String(contentsOfFile: Self.authPasswordFile!, encoding: .utf8)
            .split(separator: "\n").first.map(String.init) ?? ""
        var environment = noStoreVariables
        environment["ETCDCTL_ENDPOINTS"] = Self.authEndpoint!
        let key = "/autocluster-test/\(UUID().uuidString.lowercased())/env-auth"
        environment["ETCDCTL_USER"] = Self.authUser! + ":" + password
        let ok = try await CommandRunner.run(["list", "--key", key, "--output", "json", "--log-level", "trace"], environment: environment)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(!ok.stderr.contains(password) && !ok.stdout.contains(password), "the password leaked")
        environment["ETCDCTL_USER"] = Self.authUser! + ":wrong-\(password)"
        let denied = try await CommandRunner.run(["list", "--key", key], environment: environment)
        #expect(denied.status == 77, "\(denied.stderr)")
        #expect(denied.stderrLines.count == 1 && !denied.stderr.contains(password), "\(denied.stderr)")
    }
}
