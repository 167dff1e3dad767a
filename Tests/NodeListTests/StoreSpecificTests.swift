import AutoCluster
import ConsulStandIn
import Consul
import Etcd
import Foundation
import NodeList
import StoreTestSupport
import Testing

/// Behaviour that only some stores can show.
@Suite struct StoreSpecificTests {
    /// etcd's watch reports every revision, so even back-to-back commits are each observed.
    @Test(.enabled(if: StoreKind.etcd.enabled, "needs ETCD_ENDPOINTS (scripts/test.sh)"))
    func etcdUpdatesSeeEveryRevisionOfRapidCommits() async throws {
        let fixture = try await StoreFixture.make(.etcd)
        defer { Task { await fixture.shutdown() } }
        let watcher = try await fixture.store()
        let writer = try await fixture.store()
        let seen = TestMutex<[Int]>([])
        let watching = Task {
            for try await nodes in watcher.updates() { seen.withLock { $0.append(nodes.count) } }
        }
        defer { watching.cancel() }
        try await waitFor { seen.withLock { $0 } == [0] }
        for i in 1...10 {
            try await writer.join(ClusterNode(name: "n\(i)", address: "127.0.0.1:\(7000 + i)"))
        }
        try await waitFor { seen.withLock { $0 }.count == 11 }
        #expect(seen.withLock { $0 } == Array(0...10))
    }

    /// A store that goes away mid-life: operations fail with `.storeFailure` within their
    /// deadline instead of hanging (the Consul stand-in is this test's own server).
    @Test func anUnreachableStoreFailsWithStoreFailure() async throws {
        let standIn = try await ConsulStandIn.start()
        var configuration = ConsulClient.Configuration(address: standIn.address)
        configuration.timeouts.request = .seconds(2)
        let client = ConsulClient(configuration)
        let store = NodeListStore(backend: .consul(client), key: "/autocluster/gone", probe: NoProbe())
        try await store.join(ClusterNode(name: "a", address: "127.0.0.1:1"))
        try await standIn.shutdown()

        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: NodeListError.self) { try await store.nodes() }
        #expect(error?.code == .storeFailure)
        #expect(error?.underlying is ConsulError)
        #expect(clock.now - start < .seconds(20))
        try? await client.shutdown()
    }

    /// `zookeeper://host/chroot`: the command creates the chroot and keeps the list under it.
    @Test(.enabled(if: StoreKind.zooKeeper.enabled, "needs ZOOKEEPER_CONNECT (scripts/test.sh)"))
    func zooKeeperChrootThroughTheCommand() async throws {
        let fixture = try await StoreFixture.make(.zooKeeper)
        defer { Task { await fixture.shutdown() } }
        let chroot = "/autocluster-chroot-\(UUID().uuidString.lowercased())"
        let url = fixture.storeURL + chroot
        let join = try await CommandRunner.run(["join", "--store", url, "--key", "/svc", "--name", "n1", "--address", "127.0.0.1:7001"])
        #expect(join.status == 0, "\(join.stderr)")
        // Without the chroot, the list is at CHROOT/svc.
        let plain = try await fixture.backend()
        let stored = try await plain.read(key: chroot + "/svc")
        let document = try NodeListDocument.decode(try #require(stored).bytes, version: 0)
        #expect(document.nodes.map(\.name) == ["n1"])
    }
}
