import AutoCluster
import Consul
import Coordination
import Foundation
import NodeList
import StoreTestSupport
import Testing

/// `PresenceProbe`: the node list taking the store's own liveness signal (presence entries bound
/// to sessions) instead of probing the nodes.
@Suite("PresenceProbe")
struct PresenceProbeTests {
    /// A loopback address nothing listens on (the discard port): a TCP probe of it fails, so any
    /// "alive" below comes from presence.
    static let silentAddress = "127.0.0.1:9"

    @Test("etcd: a node is alive while its presence entry is, or when `otherwise` answers", .enabled(if: Stores.etcdEnabled))
    func etcdAnswers() async throws { try await answers(.etcd) }

    @Test("ZooKeeper: a node is alive while its presence entry is, or when `otherwise` answers", .enabled(if: Stores.zooKeeperEnabled))
    func zooKeeperAnswers() async throws { try await answers(.zooKeeper) }

    @Test("Consul (against the stand-in): a node is alive while its presence entry is, or when `otherwise` answers", .enabled(if: Stores.consulEnabled))
    func consulAnswers() async throws { try await answers(.consul) }

    func answers(_ kind: StoreKind) async throws {
        try await Harness.with(kind, clients: 2) { harness in
            let group = harness.presence(0, "probe")
            let a = try await harness.stores[1].presence(group.group).join(name: "a")
            let probe = PresenceProbe(presence: group)
            let timeout = Duration.seconds(3)
            #expect(await probe.probe(ClusterNode(name: "a", address: Self.silentAddress), timeout: timeout))
            #expect(await probe.probe(ClusterNode(name: "b", address: Self.silentAddress), timeout: timeout) == false)

            // `otherwise` answers for a node that is not present but listens.
            let listener = try await ScriptedServer.start { { _, _ in ([], false) } }
            defer { Task { await listener.stop() } }
            let either = PresenceProbe(presence: group, otherwise: TCPProbe(timeout: timeout))
            #expect(await either.probe(ClusterNode(name: "b", address: listener.address), timeout: timeout))
            #expect(await either.probe(ClusterNode(name: "b", address: Self.silentAddress), timeout: timeout) == false)

            // Eight concurrent probes (one round, answered by one shared read) all see a; after a
            // leaves, the next round says so. (That the read is shared is not asserted here.)
            let round = await withTaskGroup(of: Bool.self) { tasks in
                for _ in 0..<8 { tasks.addTask { await probe.probe(ClusterNode(name: "a", address: Self.silentAddress), timeout: timeout) } }
                return await tasks.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(round == Array(repeating: true, count: 8))
            try await a.release()
            #expect(await probe.probe(ClusterNode(name: "a", address: Self.silentAddress), timeout: timeout) == false)
        }
    }

    /// A store that accepts the connection and never answers: the probe says "absent" at its
    /// timeout, not when the client's own request timeout (30 s) ends the read.
    @Test("a store that never answers: the probe is false at its timeout (+ the stated slack)")
    func aSilentStoreEndsAtTheProbeTimeout() async throws {
        let silent = try await ScriptedServer.start { { _, _ in ([], false) } }
        let consul = ConsulClient(.init(address: "http://\(silent.address)"))
        let probe = PresenceProbe(presence: CoordinationStore.consul(consul).presence("/presence/silent"))
        let timeout = Duration.milliseconds(500)
        let started = ContinuousClock.now
        #expect(await probe.probe(ClusterNode(name: "a", address: Self.silentAddress), timeout: timeout) == false)
        let took = ContinuousClock.now - started
        #expect(took <= timeout + TestStores.timingSlack, "took \(took)")
        try await consul.shutdown()
        await silent.stop()
    }

    @Test("etcd: NodeListServices on presence — no node listens, all are ready; a crashed one is swept by the majority",
          .enabled(if: Stores.etcdEnabled))
    func etcdServices() async throws { try await services(.etcd) }

    @Test("ZooKeeper: NodeListServices on presence — no node listens, all are ready; a crashed one is swept by the majority",
          .enabled(if: Stores.zooKeeperEnabled))
    func zooKeeperServices() async throws { try await services(.zooKeeper) }

    /// Three nodes, each with its own store client running a `PresenceService` and a
    /// `NodeListService` whose probe is `PresenceProbe` alone. None of them listens anywhere, so
    /// only presence can make them see each other: all three must become ready. Then node c
    /// "crashes" (its client closes: no leave, no resign): its session/lease ends, and a and b —
    /// a majority of the three — sweep it.
    func services(_ kind: StoreKind) async throws {
        let ttl = Duration.seconds(3)
        try await Harness.with(kind, clients: 3, zooKeeperSessionTimeout: .seconds(4), configure: { $0.ttl = ttl }) { harness in
            let listKey = harness.key("list")
            var configuration = NodeListStore.Configuration()
            configuration.sweepGracePeriod = .seconds(1)
            configuration.probeTimeout = .seconds(2)
            let refresh = Duration.milliseconds(300)
            let names = ["a", "b", "c"]
            var nodeServices: [NodeListService] = []
            var tasks: [Task<Void, any Error>] = []
            for (index, name) in names.enumerated() {
                let presence = harness.presence(index, "members")
                let store = NodeListStore(backend: harness.nodeListBackend(index), key: listKey,
                                          probe: PresenceProbe(presence: presence), configuration: configuration)
                let node = ClusterNode(name: name, address: Self.silentAddress)
                let service = NodeListService(store: store, node: node, refreshInterval: refresh, quorum: 2)
                nodeServices.append(service)
                let keeper = PresenceService(presence: presence, name: name, retryDelay: .milliseconds(200))
                tasks.append(Task { try await keeper.run() })
                tasks.append(Task { try await service.run() })
            }
            defer { for task in tasks { task.cancel() } }
            let reader = NodeListStore(backend: harness.nodeListBackend(0), key: listKey)

            // Ready bound: 10 s. The presence joins and three joins take well under a second on
            // loopback; the rest is slack for a 2-core machine (under a sanitizer, too).
            let all = nodeServices
            let ready = await eventually(.seconds(10)) { all.allSatisfy { $0.isReady } }
            #expect(ready, "states: \(all.map { $0.state })")
            #expect(await Self.names(reader) == names)

            // c crashes.
            switch kind {
            case .etcd: await harness.etcdClients[2].close()
            case .zooKeeper: await harness.zooKeeperClients[2].close()
            case .consul: try await harness.consulClients[2].shutdown()
            }
            tasks[4].cancel()
            tasks[5].cancel()
            let crashed = ContinuousClock.now
            // Bound: the entry ends within the lease TTL (etcd, 3 s; closing the client does not
            // revoke it) or at once (ZooKeeper: closing the handle closes the session), then the
            // sweep takes the grace period (1 s) + 2 refresh intervals; + 3 s slack.
            let sessionEnd: Duration = kind == .etcd ? ttl : .zero
            let bound = sessionEnd + configuration.sweepGracePeriod + refresh * 2 + .seconds(3)
            let swept = await eventually(bound) { await Self.names(reader) == ["a", "b"] }
            let listed = await Self.names(reader)
            #expect(swept, "listed: \(listed)")
            print("[\(kind)] PresenceProbe: the crashed node was swept \(ContinuousClock.now - crashed) after its client closed")
            #expect(all[0].isReady && all[1].isReady, "states: \(all.map { $0.state })")
        }
    }
}

extension PresenceProbeTests {
    /// The listed names, sorted; empty when the read fails.
    static func names(_ store: NodeListStore) async -> [String] {
        ((try? await store.nodes()) ?? []).map(\.name).sorted()
    }
}

extension Harness {
    /// The presence group `name` (under this harness's prefix) seen through client `index`.
    func presence(_ index: Int, _ name: String) -> Presence { stores[index].presence(key(name)) }

    /// A node-list backend over client `index`.
    func nodeListBackend(_ index: Int) -> any NodeListBackend {
        switch kind {
        case .etcd: EtcdNodeListBackend(client: etcdClients[index])
        case .zooKeeper: ZooKeeperNodeListBackend(client: zooKeeperClients[index])
        case .consul: ConsulNodeListBackend(client: consulClients[index])
        }
    }
}
