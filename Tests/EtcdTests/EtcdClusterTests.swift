import Etcd
import StoreTestSupport
import Testing

/// Non-destructive checks against the shared 3-member cluster of `scripts/start-stores.sh --cluster`
/// (tests that kill members start their own clusters, see EtcdServerControlTests).
@Suite("EtcdClient against the shared 3-member etcd cluster", .enabled(if: EtcdTest.clusterEnabled))
struct EtcdClusterTests {
    @Test("one client per member: a write through one member is read and watched through the others")
    func acrossMembers() async throws {
        let endpoints = try TestStores.require(TestStores.etcdClusterEndpoints, "ETCD_CLUSTER_ENDPOINTS")
        #expect(endpoints.count == 3)
        var clients: [EtcdClient] = []
        for endpoint in endpoints {
            clients.append(try await EtcdClient.connect(.init(endpoints: [endpoint])))
        }
        defer { for client in clients { Task { await client.close() } } }

        let members = try await clients[0].memberList()
        #expect(members.count == 3)
        #expect(Set(members.flatMap(\.clientURLs)) == Set(endpoints))
        let statuses = try await [clients[0].status(), clients[1].status(), clients[2].status()]
        #expect(Set(statuses.map(\.header.memberID)).count == 3)
        #expect(Set(statuses.map(\.leader)).count == 1)

        let key = EtcdTest.prefix() + "k"
        let start = try await clients[0].range(prefix: key).header.revision + 1
        let watch = clients[2].watch(key, fromRevision: start)
        let put = try await clients[0].put(key, value: "through member 0".bytes)
        #expect(try await clients[1].get(key)?.modRevision == put.header.revision)   // linearizable
        let events = try await collect(watch, count: 1)
        #expect(events.first?.kv.value == "through member 0".bytes)

        let txn = try await clients[1].txn(compare: [.modRevision(key, .equal, put.header.revision)],
                                           success: [.put(key, value: "through member 1".bytes)], failure: [.get(key)])
        #expect(txn.succeeded)
        let stale = try await clients[2].txn(compare: [.modRevision(key, .equal, put.header.revision)],
                                             success: [.put(key, value: "lost".bytes)], failure: [.get(key)])
        #expect(!stale.succeeded)
        if case .range(let current)? = stale.responses.first {
            #expect(current.kvs.first?.value == "through member 1".bytes)
        } else {
            Issue.record("no current value in the failure branch")
        }
        try await clients[0].delete(key)
    }

    @Test("with endpointSyncInterval a client given one member learns the others")
    func autoSync() async throws {
        let endpoints = try TestStores.require(TestStores.etcdClusterEndpoints, "ETCD_CLUSTER_ENDPOINTS")
        var configuration = EtcdClient.Configuration(endpoints: [endpoints[1]])
        configuration.endpointSyncInterval = .milliseconds(200)
        let etcd = try await EtcdClient.connect(configuration)
        defer { Task { await etcd.close() } }
        #expect(etcd.endpoints == [endpoints[1]])
        let deadline = ContinuousClock.now + .seconds(20)
        while Set(etcd.endpoints) != Set(endpoints) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(Set(etcd.endpoints) == Set(endpoints))
        #expect(etcd.currentEndpoint == endpoints[1])
    }
}
