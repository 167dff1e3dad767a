import AutoCluster
import Coordination
import Etcd
import Foundation
import StoreTestSupport
import Testing
import ZooKeeper

/// The holder's store frozen with SIGSTOP past the session/lease TTL (a private server, so
/// nobody else is disturbed): the holder is told it lost the lock *while the store is still
/// frozen* — before the store can hand the lock to anyone — its body is cancelled, and after
/// the thaw a waiter gets a larger token.
@Suite("Lock loss: the store frozen with SIGSTOP", .serialized)
struct FreezeFaultTests {
    static var etcdAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/etcd") || TestStores.required }
    static var zooKeeperAvailable: Bool {
        FileManager.default.fileExists(atPath: "/usr/share/java/zookeeper.jar") || TestStores.required
    }

    struct Observed: Sendable {
        var loss: LockLossReason?
        var lossAt: ContinuousClock.Instant?
        var frozenAt: ContinuousClock.Instant
        var thawedAt: ContinuousClock.Instant
        var bodyCancelled: Bool
        var firstToken: UInt64
        var nextToken: UInt64
    }

    /// `stores[0]` holds, `stores[1]` waits (retrying when its own session lapses in the freeze).
    static func freeze(_ stores: [CoordinationStore], server: PrivateServer, key: String, for frozen: Duration) async throws -> Observed {
        let holder = try await stores[0].lock(key).acquire(timeout: .seconds(20))
        let bodyCancelled = TestMutex(false)
        let body = Task {
            _ = try? await holder.whileHeld {
                do { try await Task.sleep(for: .seconds(3600)) } catch {
                    bodyCancelled.withLock { $0 = true }
                    throw error
                }
            }
        }
        let loss = Task { () -> (LockLossReason?, ContinuousClock.Instant) in
            let reason = await holder.lost()
            return (reason, .now)
        }
        let waiter = Task { () -> HeldLock in
            let deadline = ContinuousClock.now + .seconds(60)
            while true {
                do {
                    return try await stores[1].lock(key).acquire(deadline: deadline)
                } catch let error as CoordinationError where (error.code == .lockLost || error.code == .storeFailure) && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let frozenAt = ContinuousClock.now
        server.freeze()
        try await Task.sleep(for: frozen)
        let thawedAt = ContinuousClock.now
        server.thaw()
        let next = try await waiter.value
        let (reason, lossAt) = await loss.value
        await body.value
        let observed = Observed(loss: reason, lossAt: lossAt, frozenAt: frozenAt, thawedAt: thawedAt,
                                bodyCancelled: bodyCancelled.withLock { $0 }, firstToken: holder.token, nextToken: next.token)
        try? await next.release()
        try? await holder.release()
        return observed
    }

    static func check(_ observed: Observed, bound: Duration, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(observed.loss == .sessionUnconfirmed, "loss: \(String(describing: observed.loss))", sourceLocation: sourceLocation)
        if let lossAt = observed.lossAt {
            #expect(lossAt < observed.thawedAt, "the holder learned \(lossAt - observed.thawedAt) after the thaw, not while frozen", sourceLocation: sourceLocation)
            #expect(lossAt - observed.frozenAt <= bound, "the holder learned \(lossAt - observed.frozenAt) after the freeze (bound \(bound))", sourceLocation: sourceLocation)
            print("loss reported \(lossAt - observed.frozenAt) after the freeze")
        }
        #expect(observed.bodyCancelled, "the run-while-held body was not cancelled", sourceLocation: sourceLocation)
        #expect(observed.nextToken > observed.firstToken, "tokens \(observed.firstToken) then \(observed.nextToken)", sourceLocation: sourceLocation)
    }

    @Test("etcd: SIGSTOP past the lease TTL — loss reported within the TTL + 1 s, while still frozen", .enabled(if: etcdAvailable))
    func etcdFrozen() async throws {
        let server = try await PrivateServer.etcd()
        defer { server.stop() }
        let ttl = Duration.seconds(3)
        var configuration = CoordinationStore.Configuration()
        configuration.ttl = ttl
        var clients: [EtcdClient] = []
        for _ in 0..<2 {
            var etcdConfiguration = EtcdClient.Configuration(endpoints: ["http://" + server.address])
            etcdConfiguration.timeouts = .init(connect: .seconds(3), request: .seconds(5))
            clients.append(try await EtcdClient.connect(etcdConfiguration))
        }
        do {
            let observed = try await Self.freeze(clients.map { .etcd($0, configuration: configuration) }, server: server,
                                                 key: "/freeze/etcd", for: ttl + .seconds(3))
            // The holder's deadline is its previous renewal's sighting + TTL: at most the TTL after the freeze.
            Self.check(observed, bound: ttl + .seconds(1))
        } catch {
            for client in clients { await client.close() }
            throw error
        }
        for client in clients { await client.close() }
    }

    @Test("ZooKeeper: SIGSTOP past the session timeout — loss reported within the timeout, while still frozen", .enabled(if: zooKeeperAvailable))
    func zooKeeperFrozen() async throws {
        let server = try await PrivateServer.zooKeeper()
        defer { server.stop() }
        let timeout = Duration.seconds(3)
        var clients: [ZooKeeperClient] = []
        for _ in 0..<2 {
            var zkConfiguration = ZooKeeperClient.Configuration(connectString: server.address, sessionTimeout: timeout)
            zkConfiguration.operationTimeout = .seconds(5)
            clients.append(try await ZooKeeperClient.connect(zkConfiguration))
        }
        do {
            let observed = try await Self.freeze(clients.map { .zooKeeper($0) }, server: server, key: "/freeze/zk",
                                                 for: timeout * 2 + .seconds(1))
            // The C client drops a connection silent for 2/3 of the session timeout; the lock counts
            // as lost at that drop, before the server (once thawed) can expire the session.
            Self.check(observed, bound: timeout)
        } catch {
            for client in clients { await client.close() }
            throw error
        }
        for client in clients { await client.close() }
    }

    @Test("ZooKeeper: a freeze shorter than the session timeout — the holder counts the lock lost, the waiter keeps waiting and gets it", .enabled(if: zooKeeperAvailable))
    func zooKeeperShortFreeze() async throws {
        let server = try await PrivateServer.zooKeeper()
        defer { server.stop() }
        let timeout = Duration.seconds(6)
        var clients: [ZooKeeperClient] = []
        for _ in 0..<2 {
            var zkConfiguration = ZooKeeperClient.Configuration(connectString: server.address, sessionTimeout: timeout)
            zkConfiguration.operationTimeout = .seconds(5)
            clients.append(try await ZooKeeperClient.connect(zkConfiguration))
        }
        do {
            let stores = clients.map { CoordinationStore.zooKeeper($0) }
            let holder = try await stores[0].lock("/freeze/short").acquire(timeout: .seconds(20))
            // One attempt only: the waiter must not fail on the drop.
            let waiter = Task { try await stores[1].lock("/freeze/short").acquire(timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(300))
            let frozenAt = ContinuousClock.now
            server.freeze()
            // The C client drops the silent connection at 2/3 of the timeout (4 s); thaw at 5 s,
            // before the server could expire the sessions (6 s).
            try await Task.sleep(for: .seconds(5))
            server.thaw()
            let next = try await waiter.value
            #expect(holder.lossReason == .sessionUnconfirmed, "holder: \(String(describing: holder.lossReason))")
            #expect(next.token > holder.token)
            #expect(ContinuousClock.now - frozenAt < .seconds(5) + .seconds(5), "the waiter got the lock \(ContinuousClock.now - frozenAt) after the freeze")
            try await next.release()
        } catch {
            for client in clients { await client.close() }
            throw error
        }
        for client in clients { await client.close() }
    }
}
