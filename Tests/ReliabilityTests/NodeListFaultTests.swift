import AutoCluster
import Etcd
import Foundation
import NodeList
import StoreTestSupport
import Testing
import ZooKeeper

/// 10 nodes join at once while the store's leader is SIGKILLed: every node ends up listed exactly
/// once, and a watcher sees the complete list. Slow (3-member clusters): scripts/faults.sh.
@Suite("NodeList faults: leader killed under 10 concurrent joiners (own servers on ports 28040-28049, 28120-28329)",
       .serialized, .enabled(if: Faults.enabled, Faults.missing), .enabled(if: Faults.slowEnabled, Faults.slow), .timeLimit(.minutes(5)))
struct NodeListFaultTests {
    /// Runs 10 joiners (each with its own client from `makeBackend`), kills `leader` as they start,
    /// retries a join that failed on the store (as a NodeListService would), and checks the list.
    static func joinersDuringLeaderLoss(key: String, leader: TestServer,
                                        makeBackend: @escaping @Sendable () async throws -> (any NodeListBackend, @Sendable () async -> Void)) async throws {
        let (watchBackend, closeWatch) = try await makeBackend()
        let watcher = NodeListStore(backend: watchBackend, key: key, probe: NoProbe())
        let seen = Locked<[[String]]>([])
        let watchTask = Task {
            // The watch is re-established across the failover; a watch that failed — or ended
            // without an error — is restarted after a pause, so a stream that ends at once
            // cannot spin this loop.
            while !Task.isCancelled {
                do {
                    for try await nodes in watcher.updates() { seen.withLock { $0.append(nodes.map(\.name)) } }
                } catch {}
                try? await Task.sleep(for: .milliseconds(200))
            }
        }

        let errors = Locked<[String]>([])
        let finished = Locked<[ContinuousClock.Instant]>([])
        // Every joiner connects first; then all join at `start`, the instant the leader dies.
        let start = ContinuousClock.now + .seconds(3)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<10 {
                group.addTask {
                    let (backend, close) = try await makeBackend()
                    let store = NodeListStore(backend: backend, key: key, probe: NoProbe())
                    try await Task.sleep(until: start)
                    let me = ClusterNode(name: "n\(i)", address: "127.0.0.1:\(7400 + i)")
                    let deadline = ContinuousClock.now + .seconds(90)
                    while true {
                        do {
                            try await store.join(me)
                            finished.withLock { $0.append(.now) }
                            break
                        } catch let error as NodeListError where error.code == .storeFailure && ContinuousClock.now < deadline {
                            errors.withLock { $0.append("\(error.code)") }
                            try await Task.sleep(for: .milliseconds(200))
                        }
                    }
                    await close()
                }
            }
            group.addTask {
                try await Task.sleep(until: start)
                leader.kill9()
            }
            try await group.waitForAll()
        }

        #expect(finished.value.contains { $0 > start + .milliseconds(200) },
                "no join was still running when the leader died — the failover was not exercised")
        let (checkBackend, closeCheck) = try await makeBackend()
        let names = try await NodeListStore(backend: checkBackend, key: key, probe: NoProbe()).nodes().map(\.name)
        #expect(names.sorted() == (0..<10).map { "n\($0)" }.sorted(), "listed: \(names)")
        #expect(Set(names).count == names.count, "nothing duplicated: \(names)")
        let complete = await waitUntil(.seconds(30)) { seen.value.contains { Set($0) == Set(names) } }
        #expect(complete, "the watch never delivered the complete list; last seen: \(seen.value.last ?? [])")
        watchTask.cancel()
        await closeWatch()
        await closeCheck()
    }

    @Test("3-member etcd: leader SIGKILLed while 10 nodes join → all 10 listed once; the watch sees the complete list")
    func etcdCluster() async throws {
        let directory = try TestServer.makeDirectory("nodelist-etcd")
        let servers = TestServer.etcdCluster(count: 3, basePort: 28040, directory: directory)
        defer { TestServer.stopAll(servers, removing: directory) }
        for server in servers { try server.start() }
        for server in servers { try await server.waitHealthy() }
        var leader: TestServer?
        for server in servers {
            let probe = try await EtcdClient.connect(EtcdFaultTests.configuration([server.endpoint]))
            let status = try await probe.status()
            if status.leader == status.header.memberID { leader = server }
            await probe.close()
        }
        let endpoints = servers.map(\.endpoint)
        try await Self.joinersDuringLeaderLoss(key: "/autocluster/leader-loss", leader: try #require(leader)) {
            let client = try await EtcdClient.connect(EtcdFaultTests.configuration(endpoints))
            return (EtcdNodeListBackend(client: client), { await client.close() })
        }
    }

    @Test("3-server ZooKeeper: leader SIGKILLed while 10 nodes join → all 10 listed once; the watch sees the complete list")
    func zooKeeperEnsemble() async throws {
        let directory = try TestServer.makeDirectory("nodelist-zk")
        let servers = try TestServer.zooKeeperEnsemble(count: 3, basePort: 28120, directory: directory)
        defer { TestServer.stopAll(servers, removing: directory) }
        for server in servers { try server.start() }
        for server in servers { try await server.waitHealthy(timeout: .seconds(90)) }
        let leader = try #require(servers.first { $0.zooKeeperMode() == "leader" })
        let connect = servers.map(\.address).joined(separator: ",")
        try await Self.joinersDuringLeaderLoss(key: "/autocluster/leader-loss", leader: leader) {
            let client = try await ZooKeeperClient.connect(ZooKeeperFaultTests.configuration(connect))
            return (ZooKeeperNodeListBackend(client: client), { await client.close() })
        }
    }
}
