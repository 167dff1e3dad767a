import Foundation
import StoreTestSupport
import Testing
import ZooKeeper

/// ZooKeeper digest ACLs against the standalone server, with the clients' logs (and the C
/// library's, which arrive through the same logger) captured at `.trace`.
@Suite("ZooKeeper security: digest ACLs", .timeLimit(.minutes(2)))
struct ZooKeeperSecurityTests {
    static var enabled: Bool { TestStores.shouldRun(TestStores.zooKeeperConnect) }

    static func client(_ logs: LogCapture, authentication: [(scheme: String, credentials: String)] = []) async throws -> ZooKeeperClient {
        let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
        var configuration = ZooKeeperClient.Configuration(connectString: connect, sessionTimeout: .seconds(10))
        configuration.operationTimeout = .seconds(10)
        configuration.authentication = authentication
        configuration.logger = logs.logger("reliability.zookeeper")
        let client = try await ZooKeeperClient.connect(configuration)
        // The session's password, for the secret scan (whoever has it can resume the session).
        if let session = client.session { TestSecrets.registerZooKeeperSession(password: session.password) }
        return client
    }

    @Test("a node with a digest ACL is unreadable and unwritable without the credentials, usable with them",
          .enabled(if: enabled))
    func digestACL() async throws {
        let logs = LogCapture()
        let user = "svc-\(UUID().uuidString.prefix(6))"
        let password = "pw-\(UUID().uuidString)"
        let wrong = "nope-\(UUID().uuidString)"
        let credentials = "\(user):\(password)"
        let root = "/" + uniqueName("zkacl")
        let path = root + "/nodes"

        let owner = try await Self.client(logs, authentication: [(scheme: "digest", credentials: credentials)])
        // The parent is guarded too: ZooKeeper checks a delete against the parent's ACL.
        try await owner.create(root, acl: .entries([.digest(user: user, password: password)]))
        // The node list's shape: a JSON value guarded by digest user:password, nothing for anyone else.
        try await owner.create(path, data: Array(#"{"format":1,"nodes":[]}"#.utf8),
                               acl: .entries([.digest(user: user, password: password)]))

        var errorTexts: [String] = []
        let stranger = try await Self.client(logs)
        for (what, call) in [
            ("get", { _ = try await stranger.get(path) }),
            ("set", { _ = try await stranger.set(path, data: Array("overwritten".utf8)) }),
            ("delete", { try await stranger.delete(path) }),
            ("create child", { _ = try await stranger.create(path + "/child") }),
            ("children", { _ = try await stranger.children(path) }),
            ("setACL", { try await stranger.setACL(path, acl: .openUnsafe) }),
        ] as [(String, () async throws -> Void)] {
            let error = await expectError(ZooKeeperError.self, call)
            #expect(error?.code == .noAuth, "\(what): \(String(describing: error))")
            if let error { errorTexts.append("\(error)"); errorTexts.append(String(reflecting: error)) }
        }
        // exists is not guarded by ACLs in ZooKeeper: the node is visible, its data is not.
        #expect(try await stranger.exists(path) != nil)

        // The wrong password does not help.
        try await stranger.addAuth(scheme: "digest", credentials: "\(user):\(wrong)")
        let stillDenied = await expectError(ZooKeeperError.self) { _ = try await stranger.get(path) }
        #expect(stillDenied?.code == .noAuth)
        if let stillDenied { errorTexts.append("\(stillDenied)") }

        // The right one, added later or configured on connect, does.
        try await stranger.addAuth(scheme: "digest", credentials: credentials)
        #expect(try await stranger.get(path).data == Array(#"{"format":1,"nodes":[]}"#.utf8))
        let configured = try await Self.client(logs, authentication: [(scheme: "digest", credentials: credentials)])
        var configuration = ZooKeeperClient.Configuration(connectString: "127.0.0.1:1")
        configuration.authentication = [(scheme: "digest", credentials: credentials)]
        configuration.session = ZooKeeperSession(id: 1, password: Array(password.utf8.prefix(16)))
        errorTexts += renderings(configuration)
        let (_, stat) = try await configured.get(path)
        let newStat = try await configured.set(path, data: Array(#"{"format":1,"nodes":[{"name":"n1"}]}"#.utf8), version: stat.version)
        #expect(newStat.version == stat.version + 1)
        #expect(String(decoding: try await owner.get(path).data, as: UTF8.self).contains("n1"))

        try await owner.delete(path)
        try await owner.delete(root)
        for client in [owner, stranger, configured] { await client.close() }

        #expect(!logs.lines.isEmpty, "the clients logged at .trace")
        logs.expectNoSecrets([password, wrong, credentials], alsoIn: errorTexts)
    }

    @Test("the digest ACL also guards what the node list keeps beside it (a child written by the owner)",
          .enabled(if: enabled))
    func childrenKeepTheirOwnACL() async throws {
        let logs = LogCapture()
        let user = "svc-\(UUID().uuidString.prefix(6))"
        let password = "pw-\(UUID().uuidString)"
        let root = "/" + uniqueName("zkacl2")
        let acl = ZooKeeperACL.entries([.digest(user: user, password: password)])
        let owner = try await Self.client(logs, authentication: [(scheme: "digest", credentials: "\(user):\(password)")])
        try await owner.create(root, acl: acl)
        try await owner.create(root + "/secret", data: Array("cookie".utf8), acl: acl)
        let stranger = try await Self.client(logs)
        #expect(await expectError(ZooKeeperError.self) { _ = try await stranger.get(root + "/secret") }?.code == .noAuth)
        #expect(await expectError(ZooKeeperError.self) { _ = try await stranger.children(root) }?.code == .noAuth)
        try await owner.delete(root + "/secret")
        try await owner.delete(root)
        await owner.close()
        await stranger.close()
        logs.expectNoSecrets([password])
    }
}
