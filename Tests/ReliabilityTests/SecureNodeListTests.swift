import AutoCluster
import ConsulStandIn
import Etcd
import Foundation
import NodeList
import StoreTestSupport
import Testing
import ZooKeeper

/// The node list with security on, end to end, the way a production service or operator opens
/// it: `StoreConnection.open` with ``StoreConnection/Security`` and the `autocluster` command
/// with `--ca-file`, `--user`, `--password-file` — against the etcd member with TLS *and*
/// authentication (`start-stores.sh --secure`) and the standalone ZooKeeper.
@Suite("NodeListStore with credentials and TLS: etcds:// + auth, ZooKeeper digest ACLs", .timeLimit(.minutes(3)))
struct SecureNodeListTests {
    static func node(_ name: String, port: Int) -> ClusterNode { ClusterNode(name: name, address: "127.0.0.1:\(port)") }

    /// `etcds://127.0.0.1:PORT` of the TLS+auth member.
    static func etcdsURL() throws -> String {
        let endpoint = try TestStores.require(Secure.tlsAuthEndpoint, "ETCD_TLS_AUTH_ENDPOINT")
        return endpoint.replacingOccurrences(of: "https://", with: "etcds://")
    }

    /// Writes `text` to a fresh mode-600 file and returns its path.
    static func secretFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("autocluster-secret-\(UUID().uuidString)").path
        guard FileManager.default.createFile(atPath: path, contents: Data((text + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw TestServerError("cannot write \(path)")
        }
        return path
    }

    /// The error `open` (or the first call) throws, as a NodeListError.
    static func openAndRead(_ url: StoreURL, _ security: StoreConnection.Security, key: String, logs: LogCapture) async -> NodeListError? {
        await expectError(NodeListError.self) {
            let connection = try await StoreConnection.open(url, security: security, logger: logs.logger("reliability.secure"), connectTimeout: .seconds(5))
            do {
                _ = try await NodeListStore(backend: connection.backend, key: key, probe: NoProbe()).nodes()
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
        }
    }

    @Test("API: etcds:// with CA and user/password works; a wrong password, no credentials, an untrusted CA or the system roots are refused clearly",
          .enabled(if: Secure.tlsAuthEnabled))
    func etcdTLSAndAuthThroughStoreConnection() async throws {
        let logs = LogCapture()
        let password = try Secure.tlsAuthPassword()
        let user = try TestStores.require(Secure.authUser, "ETCD_AUTH_USER")
        let ca = try Secure.file("ca.pem")
        let url = try StoreURL(parsing: try Self.etcdsURL())
        let key = "/autocluster-reliability/etcds-\(UUID().uuidString.prefix(8))"
        let good = StoreConnection.Security(credentials: StoreCredentials(username: user, password: password), caFile: ca)
        var errorTexts: [String] = renderings(good)

        let connection = try await StoreConnection.open(url, security: good, logger: logs.logger("reliability.secure"))
        let store = NodeListStore(backend: connection.backend, key: key, probe: NoProbe(), logger: logs.logger("reliability.nodelist"))
        #expect(try await store.join(Self.node("n1", port: 7401)).created)
        // The same credentials given in the URL (percent-encoded) instead of Security.
        let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password
        let inURL = try StoreURL(parsing: try Self.etcdsURL().replacingOccurrences(of: "etcds://", with: "etcds://\(user):\(encoded)@"))
        errorTexts += renderings(inURL)
        let second = try await StoreConnection.open(inURL, security: .init(caFile: ca), logger: logs.logger("reliability.secure"))
        try await NodeListStore(backend: second.backend, key: key, probe: NoProbe()).join(Self.node("n2", port: 7402))
        #expect(try await store.nodes().map(\.name) == ["n1", "n2"])
        #expect(try await store.sharedSecret().count >= 16)
        await second.close()

        let wrongPassword = "wrong-\(UUID().uuidString)"
        TestSecrets.register([password, wrongPassword])
        let wrong = await Self.openAndRead(url, .init(credentials: .init(username: user, password: wrongPassword), caFile: ca), key: key, logs: logs)
        #expect(wrong?.code == .accessDenied, "\(String(describing: wrong))")
        #expect(wrong?.message.contains("password") == true, "says what to check: \(String(describing: wrong))")
        #expect((wrong?.underlying as? EtcdError)?.code == .unauthenticated)

        let anonymous = await Self.openAndRead(url, .init(caFile: ca), key: key, logs: logs)
        #expect(anonymous?.code == .accessDenied, "\(String(describing: anonymous))")

        for (what, caFile) in [("untrusted CA", try Secure.file("untrusted-ca.pem")), ("system roots", nil)] as [(String, String?)] {
            let refused = await Self.openAndRead(url, .init(credentials: .init(username: user, password: password), caFile: caFile), key: key, logs: logs)
            #expect(refused?.code == .storeFailure, "\(what): \(String(describing: refused))")
            #expect((refused?.underlying as? EtcdError)?.code == .tlsFailure, "\(what): \(String(describing: refused?.underlying))")
            if let refused { errorTexts += ["\(refused)", String(reflecting: refused)] }
        }
        // TLS files with a plaintext URL are a mistake, said so before anything is sent.
        let plaintext = await Self.openAndRead(try StoreURL(parsing: "etcd://127.0.0.1:1"), .init(caFile: ca), key: key, logs: logs)
        #expect(plaintext?.code == .invalidStoreURL, "\(String(describing: plaintext))")

        for error in [wrong, anonymous].compactMap({ $0 }) { errorTexts += ["\(error)", String(reflecting: error)] }
        #expect(try await store.leave(name: "n1"))
        let etcd = (connection.backend as? EtcdNodeListBackend)?.client
        _ = try await etcd?.delete(key)
        _ = try await etcd?.delete(connection.backend.secretKey(for: key))
        await connection.close()
        #expect(!logs.lines.isEmpty)
        logs.expectNoSecrets([password, wrongPassword, encoded], alsoIn: errorTexts)
    }

    @Test("command: join and list over etcds:// with --ca-file, --user, --password-file; wrong password or untrusted CA → one clear line, non-zero exit; the password printed nowhere",
          .enabled(if: Secure.tlsAuthEnabled))
    func etcdTLSAndAuthThroughTheCommand() async throws {
        let password = try Secure.tlsAuthPassword()
        let user = try TestStores.require(Secure.authUser, "ETCD_AUTH_USER")
        let ca = try Secure.file("ca.pem")
        let url = try Self.etcdsURL()
        let key = "/autocluster-reliability/cmd-etcds-\(UUID().uuidString.prefix(8))"
        let passwordFile = try TestStores.require(Secure.tlsAuthPasswordFile, "ETCD_TLS_AUTH_PASSWORD_FILE")
        let wrongPassword = "wrong-\(UUID().uuidString)"
        TestSecrets.register([password, wrongPassword])
        let wrongFile = try Self.secretFile(wrongPassword)
        defer { try? FileManager.default.removeItem(atPath: wrongFile) }
        let secure = ["--store", url, "--key", key, "--ca-file", ca, "--user", user]
        var outputs: [String] = []

        let join = try await CommandRunner.run(["join"] + secure + ["--password-file", passwordFile, "--name", "n1", "--address", "127.0.0.1:7411",
                                                                   "--probe", "none", "--output", "json", "--log-level", "trace"])
        outputs += [join.stdout, join.stderr]
        #expect(join.status == 0, "\(join.stderr)")
        #expect(join.stdout.contains("\"created\":true"), "\(join.stdout)")
        // The second member gives everything through the environment: user and password in
        // $AUTOCLUSTER_STORE's URL, nothing secret in its arguments.
        let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password
        let second = try await CommandRunner.run(
            ["join", "--key", key, "--ca-file", ca, "--name", "n2", "--address", "127.0.0.1:7412", "--probe", "none"],
            environment: ["AUTOCLUSTER_STORE": url.replacingOccurrences(of: "etcds://", with: "etcds://\(user):\(encoded)@")])
        outputs += [second.stdout, second.stderr]
        #expect(second.status == 0, "\(second.stderr)")
        // And a third reader: user as a flag, password in $AUTOCLUSTER_STORE_PASSWORD.
        let list = try await CommandRunner.run(["list"] + secure + ["--output", "json"], environment: ["AUTOCLUSTER_STORE_PASSWORD": password])
        outputs += [list.stdout, list.stderr]
        #expect(list.status == 0, "\(list.stderr)")
        #expect(try NodeListDocument.decode(Array(list.stdout.utf8), version: 0).nodes.map(\.name) == ["n1", "n2"])

        for (what, arguments) in [
            ("wrong password", ["list"] + secure + ["--password-file", wrongFile]),
            ("untrusted CA", ["list", "--store", url, "--key", key, "--ca-file", try Secure.file("untrusted-ca.pem"), "--user", user, "--password-file", passwordFile]),
            ("system roots", ["list", "--store", url, "--key", key, "--user", user, "--password-file", passwordFile]),
            ("no credentials", ["list", "--store", url, "--key", key, "--ca-file", ca]),
        ] {
            let result = try await CommandRunner.run(arguments + ["--log-level", "trace"])
            outputs += [result.stdout, result.stderr]
            #expect(result.status != 0, "\(what): exit \(result.status)")
            let errors = result.stderrLines.filter { $0.hasPrefix("autocluster: error:") }
            #expect(errors.count == 1, "\(what): one error line: \(result.stderr)")
            let line = errors.first.map(String.init) ?? ""
            switch what {
            case "wrong password", "no credentials": #expect(line.contains("password") && line.contains("unauthenticated"), "\(what): \(line)")
            default: #expect(line.contains("CERTIFICATE_VERIFY_FAILED") || line.contains("tlsFailure"), "\(what): \(line)")
            }
        }
        let leave = try await CommandRunner.run(["leave"] + secure + ["--password-file", passwordFile, "--name", "n1"])
        #expect(leave.status == 0, "\(leave.stderr)")
        for secret in [password, encoded, wrongPassword] {
            #expect(!outputs.contains { $0.contains(secret) }, "a password in the command's output")
        }
        // Clean up with the API.
        let client = try await EtcdClient.connect(.init(endpoints: [try TestStores.require(Secure.tlsAuthEndpoint, "ETCD_TLS_AUTH_ENDPOINT")],
                                                        tls: .init(caFile: ca), credentials: .init(username: user, password: password)))
        _ = try await client.delete(key)
        await client.close()
    }

    /// Deletes `path` and everything below it.
    static func deleteTree(_ client: ZooKeeperClient, _ path: String) async throws {
        for child in try await client.children(path) { try await deleteTree(client, path + "/" + child) }
        try await client.delete(path)
    }

    /// A plain client of the standalone ZooKeeper, with optional digest credentials.
    static func zooKeeper(_ logs: LogCapture, digest: String? = nil) async throws -> ZooKeeperClient {
        try await ZooKeeperSecurityTests.client(logs, authentication: digest.map { [(scheme: "digest", credentials: $0)] } ?? [])
    }

    @Test("API: a node list StoreConnection creates with digest credentials (list, secret, parents, chroot) is noAuth for a client without them, usable with them",
          .enabled(if: TestStores.shouldRun(TestStores.zooKeeperConnect)))
    func zooKeeperDigestThroughStoreConnection() async throws {
        let logs = LogCapture()
        let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
        let user = "svc-\(UUID().uuidString.prefix(6))"
        let password = "zkpw-\(UUID().uuidString)"
        let wrong = "zkwrong-\(UUID().uuidString)"
        TestSecrets.register([password, wrong, "\(user):\(password)"])
        let chroot = "/" + uniqueName("zkdigest")
        let key = "/services/core/members"
        let url = try StoreURL(parsing: "zookeeper://\(user):\(password)@\(connect)\(chroot)")
        var errorTexts = renderings(url)

        let owner = try await StoreConnection.open(url, logger: logs.logger("reliability.secure"))
        let store = NodeListStore(backend: owner.backend, key: key, probe: NoProbe(), logger: logs.logger("reliability.nodelist"))
        #expect(try await store.join(Self.node("n1", port: 7501)).created)
        let secret = try await store.sharedSecret()

        // A client without credentials — and one with the wrong password — sees the znodes exist
        // but can neither read nor change them, nor delete them from under their parent.
        let digestACL = [ZooKeeperACL.Entry.digest(user: user, password: password)]
        for digest in [nil, "\(user):\(wrong)"] {
            let stranger = try await Self.zooKeeper(logs, digest: digest)
            #expect(try await stranger.exists(chroot + key) != nil)
            for (what, call) in [
                ("get list", { _ = try await stranger.get(chroot + key) }),
                ("set list", { _ = try await stranger.set(chroot + key, data: Array("{}".utf8)) }),
                ("delete list", { try await stranger.delete(chroot + key) }),
                ("get secret", { _ = try await stranger.get(chroot + owner.backend.secretKey(for: key)) }),
                ("list the chroot", { _ = try await stranger.children(chroot) }),
                ("create in a parent", { _ = try await stranger.create(chroot + "/services/intruder") }),
                ("delete a parent's child", { try await stranger.delete(chroot + "/services/core") }),
            ] as [(String, () async throws -> Void)] {
                let error = await expectError(ZooKeeperError.self, call)
                #expect(error?.code == .noAuth, "\(what) (\(digest == nil ? "no credentials" : "wrong password")): \(String(describing: error))")
                if let error { errorTexts.append("\(error)") }
            }
            await stranger.close()

            // Through the node-list layer: .accessDenied that says what to pass.
            let strangerURL = try StoreURL(parsing: "zookeeper://\(digest.map { $0 + "@" } ?? "")\(connect)\(chroot)")
            let connection = try await StoreConnection.open(strangerURL, logger: logs.logger("reliability.secure"))
            let denied = NodeListStore(backend: connection.backend, key: key, probe: NoProbe())
            for (what, call) in [
                ("nodes", { _ = try await denied.nodes() }),
                ("join", { try await denied.join(Self.node("intruder", port: 7599)) }),
                ("sharedSecret", { _ = try await denied.sharedSecret() }),
            ] as [(String, () async throws -> Void)] {
                let error = await expectError(NodeListError.self, call)
                #expect(error?.code == .accessDenied, "\(what): \(String(describing: error))")
                #expect(error?.message.contains("noAuth") == true && error?.message.contains("credentials") == true, "\(what): \(String(describing: error))")
                if let error { errorTexts += ["\(error)", String(reflecting: error)] }
            }
            await connection.close()
        }

        // With the credentials (a second member): usable, and the ACLs are the digest's alone.
        let member = try await StoreConnection.open(
            try StoreURL(parsing: "zookeeper://\(connect)\(chroot)"),
            security: .init(credentials: StoreCredentials(username: user, password: password)), logger: logs.logger("reliability.secure"))
        let allowed = NodeListStore(backend: member.backend, key: key, probe: NoProbe())
        try await allowed.join(Self.node("n2", port: 7502))
        #expect(try await allowed.nodes().map(\.name) == ["n1", "n2"])
        #expect(try await allowed.sharedSecret() == secret)
        let admin = try await Self.zooKeeper(logs, digest: "\(user):\(password)")
        for path in [chroot, chroot + "/services", chroot + "/services/core", chroot + key, chroot + owner.backend.secretKey(for: key)] {
            #expect(try await admin.getACL(path).acl == digestACL, "\(path)")
        }
        try await Self.deleteTree(admin, chroot)
        for connection in [owner, member] { await connection.close() }
        await admin.close()
        #expect(!logs.lines.isEmpty)
        logs.expectNoSecrets([password, wrong], alsoIn: errorTexts)
    }

    @Test("API: zooKeeperWorldReadable lets anyone read the list but still nobody without the credentials change it",
          .enabled(if: TestStores.shouldRun(TestStores.zooKeeperConnect)))
    func zooKeeperWorldReadable() async throws {
        let logs = LogCapture()
        let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
        let credentials = StoreCredentials(username: "svc", password: "zkpw-\(UUID().uuidString)")
        TestSecrets.register([credentials.password!])
        let key = "/" + uniqueName("zkworld") + "/members"
        let owner = try await StoreConnection.open(
            try StoreURL(parsing: "zookeeper://\(connect)"), security: .init(credentials: credentials, zooKeeperWorldReadable: true),
            logger: logs.logger("reliability.secure"))
        try await NodeListStore(backend: owner.backend, key: key, probe: NoProbe()).join(Self.node("n1", port: 7511))
        let reader = try await StoreConnection.open(try StoreURL(parsing: "zookeeper://\(connect)"), logger: logs.logger("reliability.secure"))
        let readOnly = NodeListStore(backend: reader.backend, key: key, probe: NoProbe())
        #expect(try await readOnly.nodes().map(\.name) == ["n1"])
        let error = await expectError(NodeListError.self) { try await readOnly.join(Self.node("intruder", port: 7599)) }
        #expect(error?.code == .accessDenied, "\(String(describing: error))")
        let admin = try await Self.zooKeeper(logs, digest: "svc:\(credentials.password!)")
        try await Self.deleteTree(admin, String(key.dropLast("/members".count)))
        for connection in [owner, reader] { await connection.close() }
        await admin.close()
        logs.expectNoSecrets([credentials.password!])
    }

    @Test("command: a list created with --user/--password-file is noAuth for `list` without them (one line, non-zero exit) and listed with them",
          .enabled(if: TestStores.shouldRun(TestStores.zooKeeperConnect)))
    func zooKeeperDigestThroughTheCommand() async throws {
        let logs = LogCapture()
        let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
        let password = "zkpw-\(UUID().uuidString)"
        TestSecrets.register([password])
        let passwordFile = try Self.secretFile(password)
        defer { try? FileManager.default.removeItem(atPath: passwordFile) }
        let chroot = "/" + uniqueName("zkcmd")
        let url = "zookeeper://\(connect)\(chroot)"
        let key = "/svc/members"
        var outputs: [String] = []

        let join = try await CommandRunner.run(["join", "--store", url, "--key", key, "--user", "svc", "--password-file", passwordFile,
                                                "--name", "n1", "--address", "127.0.0.1:7521", "--probe", "none", "--log-level", "trace"])
        outputs += [join.stdout, join.stderr]
        #expect(join.status == 0, "\(join.stderr)")
        for arguments in [["list", "--store", url, "--key", key],
                          ["join", "--store", url, "--key", key, "--name", "x", "--address", "127.0.0.1:7529", "--probe", "none"]] {
            let denied = try await CommandRunner.run(arguments)
            outputs += [denied.stdout, denied.stderr]
            #expect(denied.status != 0)
            #expect(denied.stderrLines.count == 1, "\(denied.stderr)")
            #expect(denied.stderr.contains("noAuth") && denied.stderr.contains("--password-file"), "\(denied.stderr)")
        }
        let stranger = try await Self.zooKeeper(logs)
        #expect(await expectError(ZooKeeperError.self) { _ = try await stranger.get(chroot + key) }?.code == .noAuth)
        await stranger.close()
        let list = try await CommandRunner.run(["list", "--store", url, "--key", key, "--user", "svc", "--password-file", passwordFile, "--output", "json"])
        outputs += [list.stdout, list.stderr]
        #expect(list.status == 0, "\(list.stderr)")
        #expect(try NodeListDocument.decode(Array(list.stdout.utf8), version: 0).nodes.map(\.name) == ["n1"])
        #expect(!outputs.contains { $0.contains(password) }, "the password in the command's output")
        let admin = try await Self.zooKeeper(logs, digest: "svc:\(password)")
        try await Self.deleteTree(admin, chroot)
        await admin.close()
        logs.expectNoSecrets([password])
    }

    @Test("Consul: the ACL token from the URL, --token-file or CONSUL_HTTP_TOKEN is sent; none or a wrong one is .accessDenied / one clear line; the token printed nowhere")
    func consulToken() async throws {
        let logs = LogCapture()
        let token = "consul-token-\(UUID().uuidString.lowercased())"
        let wrongToken = "consul-wrong-\(UUID().uuidString.lowercased())"
        TestSecrets.register([token, wrongToken], as: .consulToken)
        var options = ConsulStandIn.Options()
        options.aclToken = token
        let standIn = try await ConsulStandIn.start(options: options)
        let hostPort = standIn.address.replacingOccurrences(of: "http://", with: "")
        let key = "/autocluster-reliability/consul-\(UUID().uuidString.prefix(8))"
        var texts: [String] = []

        let connection = try await StoreConnection.open(try StoreURL(parsing: "consul://\(token)@\(hostPort)"), logger: logs.logger("reliability.secure"))
        #expect(try await NodeListStore(backend: connection.backend, key: key, probe: NoProbe()).join(Self.node("n1", port: 7601)).created)
        await connection.close()
        for url in ["consul://\(hostPort)", "consul://:\(wrongToken)@\(hostPort)"] {
            let parsed = try StoreURL(parsing: url)
            texts += renderings(parsed)
            let error = await Self.openAndRead(parsed, .init(), key: key, logs: logs)
            #expect(error?.code == .accessDenied, "\(String(describing: error))")
            #expect(error?.message.contains("token") == true)
            if let error { texts += ["\(error)", String(reflecting: error)] }
        }

        let tokenFile = try Self.secretFile(token)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let url = "consul://\(hostPort)"
        let viaFile = try await CommandRunner.run(["join", "--store", url, "--key", key, "--token-file", tokenFile,
                                                   "--name", "n2", "--address", "127.0.0.1:7602", "--probe", "none", "--log-level", "trace"])
        #expect(viaFile.status == 0, "\(viaFile.stderr)")
        let viaEnvironment = try await CommandRunner.run(["list", "--store", url, "--key", key, "--output", "json"], environment: ["CONSUL_HTTP_TOKEN": token])
        #expect(viaEnvironment.status == 0, "\(viaEnvironment.stderr)")
        #expect(try NodeListDocument.decode(Array(viaEnvironment.stdout.utf8), version: 0).nodes.map(\.name) == ["n1", "n2"])
        let denied = try await CommandRunner.run(["list", "--store", url, "--key", key], environment: ["CONSUL_HTTP_TOKEN": wrongToken])
        #expect(denied.status != 0)
        #expect(denied.stderrLines.count == 1 && denied.stderr.contains("403"), "\(denied.stderr)")
        texts += [viaFile.stdout, viaFile.stderr, viaEnvironment.stdout, viaEnvironment.stderr, denied.stdout, denied.stderr]
        #expect(standIn.recordedRequests.contains { $0.header("X-Consul-Token") == token }, "the token was sent")
        try await standIn.shutdown()
        logs.expectNoSecrets([token, wrongToken], alsoIn: texts)
    }

    @Test("command: credential and TLS flag mistakes end in one clear line before anything is sent, never quoting a secret file's content",
          arguments: [
            (["--store", "etcd://127.0.0.1:1", "--user", "root"], "no password for user root"),
            (["--store", "etcd://127.0.0.1:1", "--user", "root", "--password-file", "/nonexistent/pw"], "cannot read --password-file /nonexistent/pw"),
            (["--store", "etcd://127.0.0.1:1", "--password-file", "SECRET_FILE"], "--password-file needs --user"),
            (["--store", "etcds://127.0.0.1:1", "--cert-file", "/x.pem"], "--cert-file and --key-file go together"),
            (["--store", "etcd://127.0.0.1:1", "--token-file", "SECRET_FILE"], "--token-file is for Consul"),
            (["--store", "consul://127.0.0.1:1", "--user", "root"], "--user is not used with Consul"),
            (["--store", "etcd://127.0.0.1:1", "--ca-file", "/ca.pem"], "is plaintext — use etcds://"),
            (["--store", "zookeeper://127.0.0.1:1", "--ca-file", "/ca.pem"], "TLS to ZooKeeper is not supported"),
            (["--store", "etcd://root@127.0.0.1:1", "--password-file", "EMPTY_FILE"], "is empty"),
          ])
    func credentialFlagMistakes(_ arguments: [String], _ expected: String) async throws {
        let secret = "flag-secret-\(UUID().uuidString)"
        TestSecrets.register([secret])
        let secretFile = try Self.secretFile(secret)
        let emptyFile = try Self.secretFile("")
        try Data().write(to: URL(fileURLWithPath: emptyFile))
        defer { for file in [secretFile, emptyFile] { try? FileManager.default.removeItem(atPath: file) } }
        let resolved = arguments.map { $0 == "SECRET_FILE" ? secretFile : $0 == "EMPTY_FILE" ? emptyFile : $0 }
        let start = ContinuousClock.now
        let result = try await CommandRunner.run(["list", "--key", "/k"] + resolved, environment: ["AUTOCLUSTER_STORE_PASSWORD": ""])
        #expect(ContinuousClock.now - start < .seconds(10), "failed before connecting")
        #expect(result.status != 0)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("autocluster: error:") && result.stderr.contains(expected), "\(result.stderr)")
        #expect(!result.stderr.contains(secret) && !result.stdout.contains(secret))
    }
}
