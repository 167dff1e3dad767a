import AutoCluster
import Consul
import Coordination
import Etcd
import Foundation
import StoreTestSupport
import Testing
import ZooKeeper

/// The holder learns it lost the lock, its "run while held" body is cancelled, and the next
/// holder gets a larger token — when another client takes the session away.
@Suite("Lock loss: session taken away by another client")
struct LockLossTests {
    /// What one loss scenario observed.
    struct Observed: Sendable {
        var lossEvent: LockEvent?
        var bodyCancelled: Bool
        var whileHeldError: CoordinationError?
        var firstToken: UInt64
        var nextToken: UInt64
        var lossAt: ContinuousClock.Instant?
        var faultAt: ContinuousClock.Instant
        var nextEnteredAt: ContinuousClock.Instant
    }

    /// A holder (client 0) runs a body that never ends by itself; `fault` takes its session
    /// away (through client 1); client 1 waits for the lock meanwhile.
    static func scenario(_ harness: Harness, key: String, fault: @escaping @Sendable (HeldLock) async throws -> Void) async throws -> Observed {
        let holder = try await harness.stores[0].lock(key).acquire(timeout: .seconds(20))
        let bodyCancelled = TestMutex(false)
        let lossAt = TestMutex<ContinuousClock.Instant?>(nil)
        let body = Task { () -> CoordinationError? in
            do {
                _ = try await holder.whileHeld {
                    do {
                        try await Task.sleep(for: .seconds(3600))
                    } catch {
                        bodyCancelled.withLock { $0 = true }
                        throw error
                    }
                }
                return nil
            } catch let error as CoordinationError {
                return error
            } catch {
                return nil
            }
        }
        let events = Task { () -> LockEvent? in
            for await event in holder.events {
                lossAt.withLock { $0 = .now }
                return event
            }
            return nil
        }
        let waiter = Task { () -> (HeldLock, ContinuousClock.Instant) in
            let next = try await harness.stores[1].lock(key).acquire(timeout: .seconds(60))
            return (next, .now)
        }
        try await Task.sleep(for: .milliseconds(300))  // the waiter is queued
        let faultAt = ContinuousClock.now
        try await fault(holder)
        let (next, enteredAt) = try await waiter.value
        let event = await events.value
        let error = await body.value
        let observed = Observed(lossEvent: event, bodyCancelled: bodyCancelled.withLock { $0 }, whileHeldError: error,
                                firstToken: holder.token, nextToken: next.token, lossAt: lossAt.withLock { $0 },
                                faultAt: faultAt, nextEnteredAt: enteredAt)
        try await next.release()
        try? await holder.release()
        return observed
    }

    static func check(_ observed: Observed, reasons: Set<LockLossReason>, within bound: Duration,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .lost(let reason)? = observed.lossEvent else {
            Issue.record("the holder saw \(String(describing: observed.lossEvent)), not a loss", sourceLocation: sourceLocation)
            return
        }
        #expect(reasons.contains(reason), "loss reason \(reason)", sourceLocation: sourceLocation)
        #expect(observed.bodyCancelled, "the run-while-held body was not cancelled", sourceLocation: sourceLocation)
        #expect(observed.whileHeldError?.code == .lockLost, "whileHeld threw \(String(describing: observed.whileHeldError))", sourceLocation: sourceLocation)
        #expect(observed.nextToken > observed.firstToken, "tokens \(observed.firstToken) then \(observed.nextToken)", sourceLocation: sourceLocation)
        if let lossAt = observed.lossAt {
            #expect(lossAt - observed.faultAt <= bound, "loss reported \(lossAt - observed.faultAt) after the fault (bound \(bound))", sourceLocation: sourceLocation)
        }
    }

    @Test("etcd: the holder's lease revoked by another client", .enabled(if: Stores.etcdEnabled))
    func etcdLeaseRevoked() async throws {
        try await Harness.with(.etcd, clients: 2) { harness in
            let key = harness.key("revoked")
            let other = harness.etcdClients[1]
            let observed = try await Self.scenario(harness, key: key) { holder in
                // The holder's entry is KEY/<lease hex>, bound to its lease.
                let entry = try #require(try await other.range(prefix: key + "/").kvs.first { $0.createRevision == Int64(holder.token) })
                try await other.revokeLease(EtcdLeaseID(entry.lease))
            }
            // etcd deletes the key at the revocation's revision; the holder's watch and the
            // waiter's watch see that same revision, so the holder learns *at* the moment the
            // waiter can enter (not before): bound = one watch round trip, 2 s with slack.
            Self.check(observed, reasons: [.keyDeleted, .sessionEnded], within: .seconds(2))
        }
    }

    @Test("ZooKeeper: the holder's session expired by another client", .enabled(if: Stores.zooKeeperEnabled))
    func zooKeeperSessionExpired() async throws {
        try await Harness.with(.zooKeeper, clients: 2, zooKeeperSessionTimeout: .seconds(4)) { harness in
            let key = harness.key("expired")
            let holderClient = harness.zooKeeperClients[0]
            let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
            let observed = try await Self.scenario(harness, key: key) { holder in
                // Curator's KillSession: a second handle on the session closes it.
                let session = try #require(holderClient.session)
                var configuration = ZooKeeperClient.Configuration(connectString: connect, sessionTimeout: .seconds(4))
                configuration.session = session
                let thief = try await ZooKeeperClient.connect(configuration)
                await thief.close()
            }
            // The server closes the holder's connection when the session moves to the thief:
            // the holder counts the lock lost on that disconnect, before the session is closed
            // and the node deleted (so before the waiter can enter). Bound: the reconnect and
            // expiry notice take up to the session timeout (4 s) + 2 s slack.
            Self.check(observed, reasons: [.sessionUnconfirmed, .sessionEnded, .keyDeleted], within: .seconds(6))
            if let lossAt = observed.lossAt {
                #expect(lossAt <= observed.nextEnteredAt, "the holder learned of the loss after the next holder entered")
            }
        }
    }

    @Test("Consul (against the stand-in): the holder's session destroyed by another client; lock-delay honoured", .enabled(if: Stores.consulEnabled))
    func consulSessionDestroyed() async throws {
        let lockDelay = Duration.seconds(2)
        try await Harness.with(.consul, clients: 2, configure: { $0.consulLockDelay = lockDelay }) { harness in
            let key = harness.key("destroyed")
            let other = harness.consulClients[1]
            let consulKey = String(key.dropFirst())
            let destroyedAt = TestMutex<ContinuousClock.Instant?>(nil)
            let observed = try await Self.scenario(harness, key: key) { _ in
                let session = try #require(try await other.kv.get(consulKey, consistency: .consistent)?.session)
                destroyedAt.withLock { $0 = .now }
                try await other.sessions.destroy(session)
            }
            // The holder's blocking query on its key returns at the invalidation; the lock-delay
            // keeps the next holder out for `lockDelay` after it: the holder learns first.
            Self.check(observed, reasons: [.sessionEnded], within: .seconds(2))
            let destroyed = try #require(destroyedAt.withLock { $0 })
            #expect(observed.nextEnteredAt - destroyed >= lockDelay - .milliseconds(100),
                    "the next holder entered \(observed.nextEnteredAt - destroyed) after the invalidation (lock-delay \(lockDelay))")
            if let lossAt = observed.lossAt { #expect(lossAt <= observed.nextEnteredAt) }
        }
    }

    @Test("Consul (against the stand-in): the lock key deleted by another client", .enabled(if: Stores.consulEnabled))
    func consulKeyDeleted() async throws {
        try await Harness.with(.consul, clients: 2) { harness in
            let key = harness.key("deleted")
            let other = harness.consulClients[1]
            let observed = try await Self.scenario(harness, key: key) { _ in
                try await other.kv.delete(String(key.dropFirst()))
            }
            Self.check(observed, reasons: [.keyDeleted], within: .seconds(2))
        }
    }

    @Test("etcd: the lock key deleted by another client", .enabled(if: Stores.etcdEnabled))
    func etcdKeyDeleted() async throws {
        try await Harness.with(.etcd, clients: 2) { harness in
            let key = harness.key("deleted")
            let other = harness.etcdClients[1]
            let observed = try await Self.scenario(harness, key: key) { holder in
                let entry = try #require(try await other.range(prefix: key + "/").kvs.first { $0.createRevision == Int64(holder.token) })
                try await other.delete(entry.keyString)
            }
            Self.check(observed, reasons: [.keyDeleted], within: .seconds(2))
        }
    }

    @Test("ZooKeeper: the lock node deleted by another client", .enabled(if: Stores.zooKeeperEnabled))
    func zooKeeperNodeDeleted() async throws {
        try await Harness.with(.zooKeeper, clients: 2) { harness in
            let key = harness.key("deleted")
            let other = harness.zooKeeperClients[1]
            let observed = try await Self.scenario(harness, key: key) { holder in
                let children = try await other.children(key)
                for child in children {
                    let path = key + "/" + child
                    if let stat = try await other.exists(path), UInt64(stat.czxid) == holder.token {
                        try await other.delete(path)
                    }
                }
            }
            Self.check(observed, reasons: [.keyDeleted], within: .seconds(2))
        }
    }
}

@Suite("Consul without a leader: holders and waiters (against the stand-in)")
struct ConsulRenewalLossTests {
    @Test("no leader for longer than the TTL: the holder counts the lock lost before the stand-in can invalidate the session")
    func noLeader() async throws {
        let ttl = Duration.seconds(2)
        try await Harness.with(.consul, clients: 2, configure: { $0.ttl = ttl; $0.consulLockDelay = .seconds(1) }) { harness in
            let standIn = try #require(harness.standIn, "needs the stand-in (it simulates the outage)")
            let key = harness.key("no-leader")
            let holder = try await harness.stores[0].lock(key).acquire(timeout: .seconds(10))
            let loss = Task { () -> (LockLossReason?, ContinuousClock.Instant) in (await holder.lost(), .now) }
            let outageAt = ContinuousClock.now
            standIn.simulateNoLeader(true)   // every renewal now fails with 500 "No cluster leader"
            let (reason, lostAt) = await loss.value
            standIn.simulateNoLeader(false)
            #expect(reason == .sessionUnconfirmed, "reason \(String(describing: reason))")
            // The stand-in, like Consul, invalidates at the earliest TTL after the last renewal it
            // received; the holder gives up at the previous renewal's sighting + TTL: within the TTL.
            #expect(lostAt - outageAt <= ttl, "lost \(lostAt - outageAt) after the outage began (TTL \(ttl))")
            // The holder's clean-up releases the key once Consul answers again; the next holder gets it.
            let next = try await harness.stores[1].lock(key).acquire(timeout: .seconds(15))
            #expect(next.token > holder.token)
            try await next.release()
        }
    }

    @Test("a short outage (no leader) while waiting: the waiter keeps its place and gets the lock")
    func waiterSurvivesOutage() async throws {
        let lockDelay = Duration.seconds(3)
        try await Harness.with(.consul, clients: 2, configure: { $0.ttl = .seconds(10); $0.consulLockDelay = lockDelay }) { harness in
            let standIn = try #require(harness.standIn, "needs the stand-in (it simulates the outage)")
            let key = harness.key("outage")
            let holder = try await harness.stores[0].lock(key).acquire(timeout: .seconds(10))
            // The holder's session is destroyed: the lock-delay keeps the key free but untakeable,
            // so the waiter polls `PUT ?acquire=` — and its polls hit the outage below.
            let session = try #require(try await harness.consulClients[1].kv.get(String(key.dropFirst()), consistency: .consistent)?.session)
            try await harness.consulClients[1].sessions.destroy(session)
            let waiter = Task { try await harness.stores[1].lock(key).acquire(timeout: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(300))
            standIn.simulateNoLeader(true)
            try await Task.sleep(for: .milliseconds(1500))
            standIn.simulateNoLeader(false)
            let next = try await waiter.value
            #expect(next.token > holder.token)
            try await next.release()
        }
    }
}
