import AutoCluster
import Coordination
import Logging
import ServiceLifecycle
import StoreTestSupport
import Testing

/// Store-managed membership: entries listed and watched; a member whose session ends vanishes.
@Suite("Presence")
struct PresenceTests {
    @Test("etcd: members listed and watched; a dead member's entry vanishes", .enabled(if: Stores.etcdEnabled))
    func etcd() async throws { try await exercise(.etcd) }

    @Test("ZooKeeper: members listed and watched; a dead member's entry vanishes", .enabled(if: Stores.zooKeeperEnabled))
    func zooKeeper() async throws { try await exercise(.zooKeeper) }

    @Test("Consul (against the stand-in): members listed and watched; a dead member's entry vanishes", .enabled(if: Stores.consulEnabled))
    func consul() async throws { try await exercise(.consul) }

    func exercise(_ kind: StoreKind) async throws {
        let ttl = Duration.seconds(3)
        try await Harness.with(kind, clients: 3, zooKeeperSessionTimeout: .seconds(4), configure: { $0.ttl = ttl }) { harness in
            let group = harness.key("workers")
            let seen = TestMutex<[[String]]>([])
            let watcher = Task {
                for try await members in harness.stores[2].presence(group).watch() {
                    seen.withLock { $0.append(members.map(\.name)) }
                }
            }
            let a = try await harness.stores[0].presence(group).join(name: "a", value: Array("10.0.0.1:7001".utf8))
            let b = try await harness.stores[1].presence(group).join(name: "b", value: Array("10.0.0.2:7001".utf8))
            do {
                _ = try await harness.stores[2].presence(group).join(name: "a")
                Issue.record("a second live member named a was accepted")
            } catch let error as CoordinationError {
                #expect(error.code == .nameTaken)
            }
            let members = try await harness.stores[2].presence(group).members()
            #expect(members == [PresenceMember(name: "a", value: Array("10.0.0.1:7001".utf8)),
                                PresenceMember(name: "b", value: Array("10.0.0.2:7001".utf8))])
            #expect(await eventually(.seconds(5)) { seen.withLock { $0.last == ["a", "b"] } }, "watched: \(seen.withLock { $0 })")

            try await a.release()  // leaves
            #expect(await eventually(.seconds(5)) { seen.withLock { $0.last == ["b"] } }, "watched: \(seen.withLock { $0 })")

            // b "dies": its client goes away without leaving; the store removes its entry.
            switch kind {
            case .etcd: await harness.etcdClients[1].close()
            case .zooKeeper: await harness.zooKeeperClients[1].close()
            case .consul: try await harness.consulClients[1].shutdown()
            }
            // Bound: etcd lease TTL / Consul session TTL × 2 (Consul's own latitude) + 2 s slack.
            #expect(await eventually(ttl * 2 + .seconds(2)) { seen.withLock { $0.last == [] } }, "watched: \(seen.withLock { $0 })")
            _ = b
            watcher.cancel()
            _ = await watcher.result
        }
    }
}

@Suite("PresenceService")
struct PresenceServiceTests {
    @Test("ZooKeeper: the entry comes back after another client deleted it, and goes on shutdown", .enabled(if: Stores.zooKeeperEnabled))
    func zooKeeperRejoins() async throws {
        try await Harness.with(.zooKeeper, clients: 2, zooKeeperSessionTimeout: .seconds(4)) { harness in
            let group = harness.key("kept")
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let service = PresenceService(presence: harness.stores[0].presence(group), name: "w1",
                                          retryDelay: .milliseconds(100), logger: logger)
            let serviceGroup = ServiceGroup(services: [service], logger: logger)
            let running = Task { try await serviceGroup.run() }
            let observer = harness.stores[1].presence(group)
            #expect(await eventually(.seconds(10)) { (try? await observer.members().map(\.name)) == ["w1"] })
            let before = try await harness.zooKeeperClients[1].exists(group + "/w1")
            // Another client deletes the entry (as a session expiry would): the service joins again.
            try await harness.zooKeeperClients[1].delete(group + "/w1")
            #expect(await eventually(.seconds(10)) {
                guard let now = try? await harness.zooKeeperClients[1].exists(group + "/w1") else { return false }
                return now.czxid != before?.czxid
            }, "the entry was not re-created")
            await serviceGroup.triggerGracefulShutdown()
            try await running.value
            let gone = await eventually(.seconds(5)) { (try? await observer.members()) == [] }
            let left = try await observer.members()
            #expect(gone, "the entry did not go on shutdown: \(left)")
        }
    }
}
