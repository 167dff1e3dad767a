import Foundation
import Testing
import ZooKeeper

/// Container and TTL nodes go away by themselves on the server. Its container manager removes
/// them (`-Dzookeeper.extendedTypesEnabled=true`, checked every
/// `znode.container.checkIntervalMs`, which scripts/lib/stores.sh sets to 1 s instead of 60 s).
@Suite("ZooKeeper container and TTL nodes", .enabled(if: ZK.enabled), .timeLimit(.minutes(1)))
struct ZooKeeperNodeLifetimeTests {
    /// Whether `path` is gone within `timeout`.
    static func gone(_ zk: ZooKeeperClient, _ path: String, within timeout: Duration = .seconds(15)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await zk.exists(path) == nil { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await zk.exists(path) == nil
    }

    @Test("a container node stays while it has children and goes once its last child is deleted")
    func containerRemoved() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        let container = root + "/container"
        try await zk.create(container, mode: .container)
        try await zk.create(container + "/a")
        try await zk.create(container + "/b")
        // Several container checks pass: a container with children is kept.
        try await Task.sleep(for: .seconds(3))
        #expect(try await zk.exists(container) != nil)
        try await zk.delete(container + "/a")
        try await Task.sleep(for: .seconds(3))
        #expect(try await zk.exists(container) != nil, "one child is left")
        try await zk.delete(container + "/b")
        #expect(try await Self.gone(zk, container), "the empty container was not removed")
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("a TTL node without children expires; one with a child is kept")
    func ttlExpires() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        let ttl = try await zk.create(root + "/ttl", data: .utf8("t"), mode: .persistentWithTTL(.milliseconds(500)))
        let parent = try await zk.create(root + "/ttl-parent", mode: .persistentWithTTL(.milliseconds(500)))
        try await zk.create(parent + "/child")
        let lasting = try await zk.create(root + "/ttl-long", mode: .persistentWithTTL(.seconds(600)))
        #expect(try await Self.gone(zk, ttl), "the TTL node did not expire")
        #expect(try await zk.exists(parent) != nil, "a TTL node with children is kept")
        #expect(try await zk.exists(lasting) != nil, "a TTL node within its TTL is kept")
        // Without its child it expires too.
        try await zk.delete(parent + "/child")
        #expect(try await Self.gone(zk, parent))
        await ZK.deleteTree(zk, root)
        await zk.close()
    }
}
