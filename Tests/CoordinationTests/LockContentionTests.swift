import AutoCluster
import Coordination
import StoreTestSupport
import Testing

/// Ten clients (each with its own connection and session) contend for one lock for a bounded
/// time; each critical section records (token, enter, exit) on the monotonic clock.
@Suite("Lock contention: 10 clients, one lock")
struct LockContentionTests {
    struct Section: Sendable {
        var client: Int
        var token: UInt64
        var enter: ContinuousClock.Instant
        var exit: ContinuousClock.Instant
    }

    static let clients = 10
    /// Contention lasts this long; after it each client stops once it has held the lock once.
    static let duration = Duration.seconds(6)

    @Test("etcd: no overlap, strictly increasing tokens, every client got it", .enabled(if: Stores.etcdEnabled))
    func etcd() async throws { try await contend(.etcd) }

    @Test("ZooKeeper: no overlap, strictly increasing tokens, every client got it", .enabled(if: Stores.zooKeeperEnabled))
    func zooKeeper() async throws { try await contend(.zooKeeper) }

    @Test("Consul (against the stand-in): no overlap, strictly increasing tokens, every client got it", .enabled(if: Stores.consulEnabled))
    func consul() async throws { try await contend(.consul) }

    func contend(_ kind: StoreKind) async throws {
        try await Harness.with(kind, clients: Self.clients) { harness in
            let key = harness.key("contended")
            let sections = TestMutex<[Section]>([])
            let end = ContinuousClock.now + Self.duration
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, store) in harness.stores.enumerated() {
                    group.addTask {
                        let lock = store.lock(key)
                        var held = 0
                        while ContinuousClock.now < end || held == 0 {
                            let lease = try await lock.acquire(timeout: .seconds(60))
                            let enter = ContinuousClock.now
                            try await Task.sleep(for: .milliseconds(Int.random(in: 1...15)))
                            #expect(lease.isHeld, "client \(index) lost the lock inside its section: \(String(describing: lease.lossReason))")
                            let exit = ContinuousClock.now
                            sections.withLock { $0.append(Section(client: index, token: lease.token, enter: enter, exit: exit)) }
                            try await lease.release()
                            held += 1
                        }
                    }
                }
                try await group.waitForAll()
            }
            let ordered = sections.withLock { $0 }.sorted { $0.enter < $1.enter }
            #expect(Set(ordered.map(\.client)) == Set(0..<Self.clients), "clients that held the lock: \(Set(ordered.map(\.client)).sorted())")
            var overlaps = 0
            var nonIncreasing = 0
            for (previous, next) in zip(ordered, ordered.dropFirst()) {
                if next.enter < previous.exit { overlaps += 1 }
                if next.token <= previous.token { nonIncreasing += 1 }
            }
            #expect(overlaps == 0, "\(overlaps) of \(ordered.count) critical sections overlapped their predecessor")
            #expect(nonIncreasing == 0, "\(nonIncreasing) of \(ordered.count) tokens did not increase: \(ordered.map(\.token))")
            #expect(ordered.count >= Self.clients)
            print("[\(kind)] \(ordered.count) critical sections by \(Self.clients) clients in \(Self.duration)+")
        }
    }
}
