import Foundation
import Testing
import ZooKeeper

/// Bad input is rejected with `.badArguments` before it reaches the C client.
@Suite("ZooKeeperClient input validation", .timeLimit(.minutes(2)))
struct ZooKeeperValidationTests {
    static let badPaths: [(String, String)] = [
        ("", "empty"),
        ("relative/path", "relative"),
        ("/a/", "ends with"),
        ("/a//b", "empty component"),
        ("/a/./b", "\".\""),
        ("/a/../b", "\"..\""),
        ("/..", "\"..\""),
        ("/a\0b", "NUL"),
    ]

    @Test("malformed connect strings fail at once with .badArguments", arguments: [
        "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:abc", "127.0.0.1:70000", ":2181",
        "127.0.0.1:2181,", ",127.0.0.1:2181", "127.0.0.1:2181/chroot/", "127.0.0.1:2181/a//b", "/chroot",
    ])
    func badConnectString(_ connect: String) async throws {
        let start = ContinuousClock.now
        let error = await ZK.error { _ = try await ZooKeeperClient.connect(.init(connectString: connect)) }
        #expect(error?.code == .badArguments)
        #expect(error?.message.contains("connect string") == true)
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test("no server at the address: connect fails with .connectionLoss within connectTimeout")
    func noServer() async throws {
        var configuration = ZooKeeperClient.Configuration(connectString: "127.0.0.1:1")
        configuration.connectTimeout = .seconds(2)
        let start = ContinuousClock.now
        let error = await ZK.error { _ = try await ZooKeeperClient.connect(configuration) }
        let elapsed = ContinuousClock.now - start
        #expect(error?.code == .connectionLoss)
        #expect(error?.message.contains("is ZooKeeper running") == true)
        #expect(elapsed >= .seconds(2) && elapsed < .seconds(5))
    }

    @Test("a non-positive timeout or a malformed session password is rejected")
    func badConfiguration() async throws {
        var configuration = ZooKeeperClient.Configuration(connectString: "127.0.0.1:2181", sessionTimeout: .zero)
        #expect(await ZK.error { _ = try await ZooKeeperClient.connect(configuration) }?.code == .badArguments)
        configuration.sessionTimeout = .seconds(10)
        configuration.session = ZooKeeperSession(id: 42, password: [1, 2, 3])
        #expect(await ZK.error { _ = try await ZooKeeperClient.connect(configuration) }?.code == .badArguments)
    }

    @Test("bad paths are rejected by every operation, before reaching ZooKeeper", .enabled(if: ZK.enabled))
    func badPaths() async throws {
        let zk = try await ZK.client()
        for (path, reason) in Self.badPaths {
            let errors: [ZooKeeperError?] = [
                await ZK.error { try await zk.create(path) },
                await ZK.error { _ = try await zk.get(path) },
                await ZK.error { try await zk.set(path, data: []) },
                await ZK.error { try await zk.delete(path) },
                await ZK.error { _ = try await zk.exists(path) },
                await ZK.error { _ = try await zk.children(path) },
                await ZK.error { try await zk.sync(path) },
                await ZK.error { _ = try await zk.getACL(path) },
                await ZK.error { try await zk.multi([.check(path, version: 0)]) },
            ]
            for error in errors {
                #expect(error?.code == .badArguments, "\(path.debugDescription)")
                #expect(error?.message.contains(reason) == true, "\(error?.message ?? "") should say \(reason)")
                #expect(error?.message.contains("\0") == false, "the message escapes NUL")
            }
            var iterator = zk.watch(path).makeAsyncIterator()
            let watchError = await ZK.error { _ = try await iterator.next() }
            #expect(watchError?.code == .badArguments)
        }
        // Validation happens before the client even checks whether it is open.
        await zk.close()
        #expect(await ZK.error { _ = try await zk.get("relative") }?.code == .badArguments)
        #expect(await ZK.error { _ = try await zk.get("/fine") }?.code == .closed)
    }

    @Test("data over the 1 MiB limit is rejected before it is sent", .enabled(if: ZK.enabled))
    func dataTooLarge() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        let tooLarge = [UInt8](repeating: 1, count: 1_048_577)
        let createError = await ZK.error { try await zk.create(root + "/big", data: tooLarge) }
        #expect(createError?.code == .badArguments)
        #expect(createError?.message.contains("1048576") == true)
        #expect(await ZK.error { try await zk.set(root, data: tooLarge) }?.code == .badArguments)
        #expect(await ZK.error { try await zk.multi([.set(root, data: tooLarge)]) }?.code == .badArguments)
        #expect(try await zk.exists(root + "/big") == nil)
        // The session is unharmed (an oversized packet would have made the server drop it).
        #expect(zk.sessionState == .connected)
        try await zk.create(root + "/exactly", data: [UInt8](repeating: 2, count: 1_000_000))
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("the root is valid for reads, and sequential creates may end in /", .enabled(if: ZK.enabled))
    func specialPaths() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        #expect(try await zk.exists("/") != nil)
        #expect(try await zk.children("/").contains(String(root.dropFirst())))
        let sequential = try await zk.create(root + "/", mode: .persistentSequential)
        #expect(sequential == root + "/0000000000")
        #expect(await ZK.error { try await zk.create(root + "/", mode: .persistent) }?.code == .badArguments)
        #expect(await ZK.error { try await zk.delete("/") }?.code == .badArguments)
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("cancelling a connect that has no server to reach ends it at once with .cancelled")
    func cancelConnect() async throws {
        // Nothing listens on port 1: the C client keeps trying until connectTimeout.
        var configuration = ZooKeeperClient.Configuration(connectString: "127.0.0.1:1")
        configuration.connectTimeout = .seconds(30)
        let start = ContinuousClock.now
        let connecting = Task { [configuration] in try await ZooKeeperClient.connect(configuration) }
        try await Task.sleep(for: .milliseconds(300))
        connecting.cancel()
        let error = await ZK.error { _ = try await connecting.value }
        #expect(error?.code == .cancelled)
        #expect(ContinuousClock.now - start < .seconds(5), "connect waited for its timeout instead")

        // Cancelled before it even started waiting.
        let early = Task { [configuration] in
            withUnsafeCurrentTask { $0?.cancel() }
            return try await ZooKeeperClient.connect(configuration)
        }
        let earlyError = await ZK.error { _ = try await early.value }
        #expect(earlyError?.code == .cancelled)
        #expect(ContinuousClock.now - start < .seconds(6))
    }
}
