import AutoCluster
import ConsulStandIn
import Consul
import Foundation
import NodeList
import StoreTestSupport
import Testing
import ZooKeeper

/// What each store's version means to a compare-and-swap: ZooKeeper's includes the znode's
/// identity, Consul's comes back from the write itself.
@Suite struct StoreVersionTests {
    static let zooKeeper = TestStores.shouldRun(TestStores.zooKeeperConnect)

    static func zooKeeperClient() async throws -> ZooKeeperClient {
        try await ZooKeeperClient.connect(.init(connectString: try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")))
    }

    static func key() -> String { "/autocluster-test/\(UUID().uuidString.lowercased())/nodes" }

    /// Deletes the list znode (its generation child first) and creates it again, by hand, with
    /// `bytes`: the new znode's `stat.version` is 0 again.
    static func recreate(_ client: ZooKeeperClient, _ key: String, _ bytes: [UInt8]) async throws {
        for child in try await client.children(key) { try await client.delete(key + "/" + child) }
        try await client.delete(key)
        _ = try await client.create(key, data: bytes)
    }

    @Test(.enabled(if: zooKeeper))
    func aZooKeeperWriterHoldingTheOldZnodesVersionNeverOverwritesARecreatedList() async throws {
        let client = try await Self.zooKeeperClient()
        let admin = try await Self.zooKeeperClient()
        let key = Self.key()
        let backend = ZooKeeperNodeListBackend(client: client)
        let old = NodeListDocument(nodes: [ClusterNode(name: "old", address: "127.0.0.1:1")]).encoded()
        guard case .created(let stale) = try await backend.createIfAbsent(key: key, value: old) else {
            Issue.record("the list existed already")
            return
        }
        // Someone deletes the list and creates a new one: version 0 again, like the one held.
        let fresh = NodeListDocument(nodes: [ClusterNode(name: "fresh", address: "127.0.0.1:2")]).encoded()
        try await Self.recreate(admin, key, fresh)
        #expect(try await admin.get(key).stat.version == 0)

        let result = try await backend.compareAndSwap(key: key, expected: stale, value: old)
        guard case .conflict(let current) = result else {
            Issue.record("the stale swap succeeded: \(result)")
            return
        }
        #expect(current?.bytes == fresh)
        #expect(try await admin.get(key).data == fresh)
        await client.close()
        await admin.close()
    }

    @Test(.enabled(if: zooKeeper))
    func zooKeeperUpdatesDeliverADeleteAndRecreateWithTheSameBytes() async throws {
        let client = try await Self.zooKeeperClient()
        let admin = try await Self.zooKeeperClient()
        let key = Self.key()
        let store = NodeListStore(backend: .zooKeeper(client), key: key, probe: NoProbe())
        let node = ClusterNode(name: "n1", address: "127.0.0.1:1")
        try await store.join(node)
        let bytes = try await admin.get(key).data
        let seen = TestMutex<[[String]]>([])
        let watching = Task {
            for try await nodes in store.updates() { seen.withLock { $0.append(nodes.map(\.name)) } }
        }
        defer { watching.cancel() }
        try await waitFor { seen.withLock { $0 } == [["n1"]] }
        // The same bytes at stat.version 0 again: only the identity (mzxid) differs.
        try await Self.recreate(admin, key, bytes)
        try await waitFor { seen.withLock { $0 }.filter { $0 == ["n1"] }.count == 2 }
        await client.close()
        await admin.close()
    }

    @Test(.enabled(if: zooKeeper))
    func zooKeeperVersionsAreMzxidsAndNeverTrap() async throws {
        let client = try await Self.zooKeeperClient()
        let key = Self.key()
        let backend = ZooKeeperNodeListBackend(client: client)
        guard case .created(let first) = try await backend.createIfAbsent(key: key, value: Array("{}".utf8)) else {
            Issue.record("the list existed already")
            return
        }
        let stat = try await client.get(key).stat
        #expect(first == UInt64(stat.mzxid))
        // A version the store never handed out (also one above Int64.max) is a conflict, not a trap.
        for bogus in [UInt64.max, UInt64(Int64.max) + 1, 0] {
            guard case .conflict = try await backend.compareAndSwap(key: key, expected: bogus, value: Array("{}".utf8)) else {
                Issue.record("a swap against version \(bogus) succeeded")
                continue
            }
        }
        await client.close()
    }

    /// Consul's new `ModifyIndex` comes back in the transaction's own answer: the backend writes
    /// with `/v1/txn` and reads nothing back after it (against the stand-in).
    @Test func consulSwapsReturnTheWrittenIndexFromTheTransactionItself() async throws {
        let standIn = try await ConsulStandIn.start()
        let client = ConsulClient(.init(address: standIn.address))
        let backend = ConsulNodeListBackend(client: client)
        guard case .created(let created) = try await backend.createIfAbsent(key: "/svc/nodes", value: Array("a".utf8)) else {
            Issue.record("the key existed already")
            return
        }
        let before = standIn.recordedRequests.count
        guard case .swapped(let version) = try await backend.compareAndSwap(key: "/svc/nodes", expected: created, value: Array("b".utf8)) else {
            Issue.record("the swap conflicted")
            return
        }
        let requests = standIn.recordedRequests.dropFirst(before)
        #expect(requests.map { "\($0.method) \($0.uri.split(separator: "?").first ?? "")" } == ["PUT /v1/txn"])
        #expect(try await client.kv.get("svc/nodes", consistency: .consistent)?.modifyIndex == version)
        try await client.shutdown()
        try await standIn.shutdown()
    }
}
