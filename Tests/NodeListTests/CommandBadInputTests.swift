import AutoCluster
import Foundation
import NodeList
import StoreTestSupport
import Testing

/// The bad-input catalogue of the `autocluster` command (issue 8): the built binary, run against
/// the real stores (ZooKeeper and etcd from the environment, Consul through the in-test
/// stand-in), fed malformed URLs, keys, names, addresses, durations, numbers, invalid UTF-8,
/// lists over the store's size limit and corrupt stored values.
///
/// Every run must: exit with the documented status (64 for a wrong argument, 65 for a corrupt value,
/// 69 when the store cannot be reached, 1 when the operation fails), print exactly ONE line `autocluster: error: …` on stderr that names
/// the problem, print nothing on stdout, finish within ``bound``, and never die by a signal.
/// After a failed `join`/`sweep` the stored value is byte-for-byte the same.
@Suite("the autocluster command with bad input", .timeLimit(.minutes(10)))
struct CommandBadInputTests {
    /// The most one run may take (the slowest case is an unreachable store: a 5 s connect
    /// time-out; the rest fail before contacting a store or after one round trip).
    static let bound: Duration = .seconds(20)
    static let usage: Int32 = 64
    static let failure: Int32 = 1
    static let corrupt: Int32 = 65
    static let unavailable: Int32 = 69

    /// The common contract of a failed run; returns its stderr line.
    @discardableResult
    static func expectRejected(
        _ arguments: [String], raw: [[UInt8]]? = nil, status: [Int32], naming: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        let started = ContinuousClock.now
        let result: CommandRunner.Result
        if let raw {
            result = try await CommandRunner.run(raw: raw, timeout: bound)
        } else {
            result = try await CommandRunner.run(arguments, timeout: bound)
        }
        let elapsed = ContinuousClock.now - started
        let shown = raw.map { "\($0)" } ?? arguments.map { String($0.prefix(60)) }.joined(separator: " ")
        #expect(result.status < 128, "\(shown): died by signal \(result.status - 128)", sourceLocation: sourceLocation)
        #expect(status.contains(result.status), "\(shown): exit status \(result.status), expected \(status); stderr: \(result.stderr)",
                sourceLocation: sourceLocation)
        #expect(result.stderrLines.count == 1 && result.stderr.hasSuffix("\n"),
                "\(shown): stderr is not one line: \(result.stderr.debugDescription)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("autocluster: error: "), "\(shown): \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "\(shown): stdout: \(result.stdout)", sourceLocation: sourceLocation)
        #expect(elapsed < bound, "\(shown): took \(elapsed)", sourceLocation: sourceLocation)
        for word in naming {
            #expect(result.stderr.localizedCaseInsensitiveContains(word),
                    "\(shown): the error does not name \"\(word)\": \(result.stderr)", sourceLocation: sourceLocation)
        }
        return result.stderr
    }

    static var etcdURL: String? {
        TestStores.etcdEndpoints?.first.map { $0.replacingOccurrences(of: "http://", with: "etcd://") }
    }

    // MARK: - Store URLs

    @Test("malformed store URLs: exit 64, one line naming what is wrong, no store contacted", arguments: [
        ("127.0.0.1:2379", "no scheme"),
        ("redis://127.0.0.1:6379", "unknown scheme"),
        ("etcd://", "no host"),
        ("zookeeper://", "no host"),
        ("etcd://:2379", "HOST:PORT"),
        ("etcd://127.0.0.1:0", "1…65535"),
        ("etcd://127.0.0.1:99999", "1…65535"),
        ("consul://127.0.0.1:abc", "1…65535"),
        ("etcd://127.0.0.1:2379,,127.0.0.1:2380", "empty host"),
        ("etcd://127.0.0.1 :2379", "space"),
        ("etcd://127.0.0.1\u{7}:2379", "control character"),
        ("etcd://127.0.0.1:2379/path", "path"),
        ("zookeeper://127.0.0.1:2181/a//b", "empty segment"),
        ("zookeeper://127.0.0.1:2181/a/../b", "\"..\""),
        ("etcd://127.0.0.1:2379?x=1", "query"),
        ("consul://127.0.0.1:8500,127.0.0.1:8501", "one agent"),
    ])
    func malformedStoreURL(_ url: String, naming: String) async throws {
        try await Self.expectRejected(["list", "--store", url, "--key", "/autocluster/x"], status: [Self.usage],
                                      naming: ["store URL", naming])
    }

    @Test("credentials in a store URL never appear in the error (user:password@)", arguments: [
        "etcd://admin:s3cret-pw@127.0.0.1:1",
        "zookeeper://admin:s3cret-pw@127.0.0.1:1",
        "consul://tok:s3cret-pw@with@at@127.0.0.1:1",
        "etcd://admin:s3cret-pw@127.0.0.1:99999",
        "nope://admin:s3cret-pw@host",
    ])
    func credentialsRedacted(_ url: String) async throws {
        // Whether credentials in URLs are refused or accepted, nothing listens on port 1: it fails.
        let line = try await Self.expectRejected(["list", "--store", url, "--key", "/autocluster/x"],
                                                 status: [Self.usage, Self.unavailable], naming: [])
        #expect(!line.contains("s3cret-pw"), "the password leaked: \(line)")
        let environment = try await CommandRunner.run(["list", "--key", "/autocluster/x"], environment: ["AUTOCLUSTER_STORE": url],
                                                      timeout: Self.bound)
        #expect(environment.status != 0 && environment.stderrLines.count == 1)
        #expect(!environment.stderr.contains("s3cret-pw"), "the password leaked: \(environment.stderr)")
    }

    @Test("a store that is not there: exit 69 within the connect time-out, naming the store")
    func unreachableStore() async throws {
        for url in ["etcd://127.0.0.1:1", "zookeeper://127.0.0.1:1", "consul://127.0.0.1:1"] {
            try await Self.expectRejected(["list", "--store", url, "--key", "/autocluster/x"], status: [Self.unavailable],
                                          naming: ["127.0.0.1:1"])
        }
    }

    // MARK: - Keys, names, addresses, durations, numbers

    @Test("malformed keys: exit 64 before the store is contacted",
          .enabled(if: StoreKind.etcd.enabled, "needs ETCD_ENDPOINTS (scripts/test.sh)"), arguments: [
        ("autocluster/x", "not absolute"),
        ("/autocluster/x/", "ends with"),
        ("", "not absolute"),
        ("/", "root"),
        ("/autocluster//x", "empty component"),
        ("/autocluster/./x", "\".\""),
        ("/autocluster/../x", "\"..\""),
        ("/autocluster/x\u{1b}[31m", "control character"),
        ("/autocluster/x\ny", "control character"),
    ])
    func malformedKey(_ key: String, naming: String) async throws {
        let url = try TestStores.require(Self.etcdURL, "ETCD_ENDPOINTS")
        for command in ["list", "sweep"] {
            let line = try await Self.expectRejected([command, "--store", url, "--key", key], status: [Self.usage],
                                                     naming: ["--key", naming])
            #expect(!line.contains("\u{1b}"), "a control character reached the terminal: \(line.debugDescription)")
        }
        try await Self.expectRejected(
            ["join", "--store", url, "--key", key, "--name", "n1", "--address", "127.0.0.1:7001"], status: [Self.usage],
            naming: ["--key", naming])
    }

    /// Join arguments other than the store and key, each with what the error must name.
    static let badJoinArguments: [([String], String)] = [
        (["--name", ""], "--name"),
        (["--name", String(repeating: "n", count: 300)], "--name"),
        (["--name", "n\u{1}1"], "control character"),
        (["--address", ""], "--address"),
        (["--address", "127.0.0.1"], "port"),
        (["--address", "127.0.0.1:0"], "port"),
        (["--address", "127.0.0.1:65536"], "port"),
        (["--address", "127.0.0.1:http"], "port"),
        (["--address", ":7001"], "host"),
        (["--address", "[::1"], "--address"),
        (["--address", "10.0.0.5 :7001"], "space"),
        (["--address", String(repeating: "h", count: 300) + ".example:7001"], "--address"),
        (["--incarnation", ""], "--incarnation"),
        (["--metadata", "novalue"], "KEY=VALUE"),
        (["--metadata", "=v"], "KEY=VALUE"),
        (["--probe-timeout", "abc"], "--probe-timeout"),
        (["--probe-timeout=-1s"], "--probe-timeout"),
        (["--probe-timeout", "0"], "--probe-timeout"),
        (["--probe-timeout", "99999999999999h"], "--probe-timeout"),
        (["--probe-timeout", "1e400s"], "--probe-timeout"),
        (["--probe-timeout", "nan"], "--probe-timeout"),
        (["--sweep-grace", "-10s"], "--sweep-grace"),
        (["--sweep-grace", "10 s"], "--sweep-grace"),
        (["--probe-attempts", "0"], "--probe-attempts"),
        (["--probe-attempts", "abc"], "--probe-attempts"),
        (["--probe-concurrency", "0"], "--probe-concurrency"),
        (["--max-nodes", "0"], "--max-nodes"),
        (["--max-nodes=-5"], "--max-nodes"),
        (["--max-nodes", "99999999999999999999999"], "--max-nodes"),
        (["--probe", "ftp"], "--probe"),
        (["--probe", "http:no-slash"], "--probe"),
        (["--log-level", "loud"], "--log-level"),
        (["--frobnicate"], "--frobnicate"),
    ]

    @Test("malformed names, addresses, durations and numbers: exit 64, nothing written",
          .enabled(if: StoreKind.etcd.enabled, "needs ETCD_ENDPOINTS (scripts/test.sh)"))
    func malformedJoinArguments() async throws {
        let url = try TestStores.require(Self.etcdURL, "ETCD_ENDPOINTS")
        let key = "/autocluster-test/\(UUID().uuidString.lowercased())/badargs"
        let good = ["--name", "n1", "--address", "127.0.0.1:7001"]
        for (bad, naming) in Self.badJoinArguments {
            // A later --name/--address overrides the good one (ArgumentParser keeps the last).
            try await Self.expectRejected(["join", "--store", url, "--key", key] + good + bad, status: [Self.usage],
                                          naming: [naming])
        }
        try await Self.expectRejected(["join", "--store", url, "--name", "n1", "--address", "127.0.0.1:7001"],
                                      status: [Self.usage], naming: ["--key"])
        try await Self.expectRejected(["leave", "--store", url, "--key", key, "--name", ""], status: [Self.usage],
                                      naming: ["--name"])
        try await Self.expectRejected(["run", "--store", url, "--key", key] + good + ["--refresh", "0"], status: [Self.usage],
                                      naming: ["--refresh"])
        try await Self.expectRejected(["sweep", "--store", url, "--key", key, "--max-nodes", "0"], status: [Self.usage],
                                      naming: ["--max-nodes"])
        // None of them reached the store.
        let list = try await CommandRunner.run(["list", "--store", url, "--key", key, "--output", "json"], timeout: Self.bound)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout == "{\"format\":1,\"nodes\":[],\"version\":null}\n")
    }

    @Test("invalid UTF-8 in an argument: exit 64, naming the argument, nothing written",
          .enabled(if: StoreKind.etcd.enabled, "needs ETCD_ENDPOINTS (scripts/test.sh)"))
    func invalidUTF8() async throws {
        let url = try TestStores.require(Self.etcdURL, "ETCD_ENDPOINTS")
        let key = "/autocluster-test/\(UUID().uuidString.lowercased())/utf8"
        let bad: [[UInt8]] = [
            [0x6e, 0xff],              // a byte that is never UTF-8
            [0x6e, 0xc3],              // a truncated sequence
            [0x6e, 0xed, 0xa0, 0x80],  // an encoded surrogate
            [0x6e, 0xc0, 0xaf],        // an overlong "/"
        ]
        for bytes in bad {
            let join: [[UInt8]] = [Array("join".utf8), Array("--store".utf8), Array(url.utf8), Array("--key".utf8), Array(key.utf8),
                                   Array("--name".utf8), bytes, Array("--address".utf8), Array("127.0.0.1:7001".utf8)]
            try await Self.expectRejected([], raw: join, status: [Self.usage], naming: ["--name", "UTF-8"])
            let list: [[UInt8]] = [Array("list".utf8), Array("--store".utf8), Array(url.utf8), Array("--key".utf8),
                                   Array(key.utf8) + bytes]
            try await Self.expectRejected([], raw: list, status: [Self.usage], naming: ["--key", "UTF-8"])
            let store: [[UInt8]] = [Array("list".utf8), Array("--store".utf8), Array(url.utf8) + bytes, Array("--key".utf8),
                                    Array(key.utf8)]
            try await Self.expectRejected([], raw: store, status: [Self.usage], naming: ["--store", "UTF-8"])
        }
        let list = try await CommandRunner.run(["list", "--store", url, "--key", key, "--output", "json"], timeout: Self.bound)
        #expect(list.stdout == "{\"format\":1,\"nodes\":[],\"version\":null}\n", "\(list.stderr)")
    }

    // MARK: - The stores: values over their limit, corrupt values

    /// A fixture's raw access: write exactly these bytes, read back bytes and version.
    static func writeRaw(_ fixture: StoreFixture, _ bytes: [UInt8]) async throws -> VersionedValue {
        let backend = try await fixture.backend()
        guard case .created(let version) = try await backend.createIfAbsent(key: fixture.key, value: bytes) else {
            throw CommandRunner.Failure(description: "\(fixture.key) already exists")
        }
        let stored = try #require(try await backend.read(key: fixture.key))
        #expect(stored.bytes == bytes)
        #expect(stored.version == version || fixture.kind != .etcd)
        return stored
    }

    static func readRaw(_ fixture: StoreFixture) async throws -> VersionedValue? {
        try await fixture.backend().read(key: fixture.key)
    }

    /// The limit of one stored value in each store, as its client enforces it.
    static func limit(_ kind: StoreKind) -> Int {
        switch kind {
        case .zooKeeper: 1_048_576   // jute.maxbuffer
        case .etcd: 1_572_864        // --max-request-bytes (1.5 MiB)
        case .consul: 524_288        // kv_max_value_size (512 KiB)
        }
    }

    @Test("a join whose list would pass the store's size limit: exit 1, naming the size; the list untouched",
          .enabled(if: StoreKind.allEnabled, "needs ZOOKEEPER_CONNECT and ETCD_ENDPOINTS (scripts/test.sh)"),
          arguments: StoreKind.available)
    func overTheStoreLimit(_ kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { Task { await fixture.shutdown() } }
        // A valid list just under the limit: entries with 60 KiB of metadata each.
        let blob = String(repeating: "m", count: 60 * 1024)
        var nodes: [ClusterNode] = []
        while NodeListDocument(nodes: nodes).encoded().count + 62 * 1024 < Self.limit(kind) - 4096 {
            nodes.append(ClusterNode(name: "big\(nodes.count)", address: "127.0.0.1:\(7100 + nodes.count)", metadata: ["blob": blob]))
        }
        let before = try await Self.writeRaw(fixture, NodeListDocument(nodes: nodes).encoded())
        // Joining with another 100 KiB of metadata passes the limit.
        let line = try await Self.expectRejected(
            ["join", "--store", fixture.storeURL, "--key", fixture.key, "--name", "n-new", "--address", "127.0.0.1:7999",
             "--probe", "none", "--metadata", "blob=" + String(repeating: "x", count: 100 * 1024)],
            status: [Self.failure], naming: ["bytes", "limit", "nothing was written"])
        #expect(line.count < 1000, "an overlong error line: \(line.count) characters")
        let after = try #require(try await Self.readRaw(fixture))
        #expect(after == before, "the stored list changed after a failed join")
    }

    /// Stored values that are not a format-1 node list.
    static let corruptValues: [(String, [UInt8])] = [
        ("not JSON", Array("hello, world".utf8)),
        ("empty", []),
        ("truncated JSON", Array(#"{"format":1,"nodes":[{"name":"a","address":"127.0.0.1:1","incarn"#.utf8)),
        ("invalid UTF-8", [0x7b, 0x22, 0x66, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
        ("invalid UTF-8 in a string",
         Array(#"{"format":1,"nodes":[{"name":""#.utf8) + [0xc3, 0x28]
            + Array(#"","address":"127.0.0.1:1","incarnation":"i","joinedAt":"2026-01-01T00:00:00Z"}]}"#.utf8)),
        ("wrong types", Array(#"{"format":1,"nodes":[{"name":42,"address":["127.0.0.1:1"],"incarnation":null,"joinedAt":true}]}"#.utf8)),
        ("nodes not an array", Array(#"{"format":1,"nodes":{"a":1}}"#.utf8)),
        ("format 2", Array(#"{"format":2,"nodes":[]}"#.utf8)),
        ("format as a string", Array(#"{"format":"1","nodes":[]}"#.utf8)),
        ("a JSON array", Array("[1,2,3]".utf8)),
        ("a control character in a joinedAt", Array("{\"format\":1,\"nodes\":[{\"name\":\"a\",\"address\":\"127.0.0.1:1\",\"incarnation\":\"i\",\"joinedAt\":\"\\u001b[2J\\n\(String(repeating: "9", count: 5000))\"}]}".utf8)),
    ]

    @Test("a corrupt stored value: list, join and sweep exit 65 with one line; the value is byte-for-byte unchanged",
          .enabled(if: StoreKind.allEnabled, "needs ZOOKEEPER_CONNECT and ETCD_ENDPOINTS (scripts/test.sh)"),
          arguments: StoreKind.available)
    func corruptStoredValue(_ kind: StoreKind) async throws {
        for (what, bytes) in Self.corruptValues {
            let fixture = try await StoreFixture.make(kind)
            let before = try await Self.writeRaw(fixture, bytes)
            let url = fixture.storeURL
            let runs: [[String]] = [
                ["list", "--store", url, "--key", fixture.key],
                ["list", "--store", url, "--key", fixture.key, "--output", "json"],
                ["join", "--store", url, "--key", fixture.key, "--name", "n1", "--address", "127.0.0.1:7001", "--probe", "none"],
                ["sweep", "--store", url, "--key", fixture.key, "--probe", "none"],
                ["leave", "--store", url, "--key", fixture.key, "--name", "a"],
            ]
            for arguments in runs {
                let line = try await Self.expectRejected(arguments, status: [Self.corrupt],
                                                         naming: ["not a format-1 document", "version \(before.version)", "--replace-corrupt"])
                #expect(line.count < 1000, "\(kind) \(what): an overlong error line (\(line.count) characters)")
                #expect(!line.contains("\u{1b}"), "\(kind) \(what): a control character reached the terminal")
                let after = try #require(try await Self.readRaw(fixture), "\(kind) \(what): the value is gone after \(arguments[0])")
                #expect(after == before, "\(kind) \(what): \(arguments[0]) changed the stored value")
            }
            await fixture.shutdown()
        }
    }
}
