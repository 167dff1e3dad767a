import AutoCluster
import Consul
import Coordination
import StoreTestSupport
import Testing

/// tryAcquire, deadlines, cancellation and withLock, on each store.
@Suite("Lock API")
struct LockAPITests {
    @Test("etcd: tryAcquire, deadline, cancellation, withLock", .enabled(if: Stores.etcdEnabled))
    func etcd() async throws { try await exercise(.etcd) }

    @Test("ZooKeeper: tryAcquire, deadline, cancellation, withLock", .enabled(if: Stores.zooKeeperEnabled))
    func zooKeeper() async throws { try await exercise(.zooKeeper) }

    @Test("Consul (against the stand-in): tryAcquire, deadline, cancellation, withLock", .enabled(if: Stores.consulEnabled))
    func consul() async throws { try await exercise(.consul) }

    func exercise(_ kind: StoreKind) async throws {
        try await Harness.with(kind, clients: 2) { harness in
            let key = harness.key("api")
            let mine = harness.stores[0].lock(key)
            let theirs = harness.stores[1].lock(key)

            let held = try #require(try await mine.tryAcquire(), "tryAcquire on a free lock")
            #expect(held.isHeld)
            #expect(try await theirs.tryAcquire() == nil, "tryAcquire while held")

            // A deadline: .timedOut within the deadline + 2 s slack.
            let started = ContinuousClock.now
            do {
                _ = try await theirs.acquire(timeout: .milliseconds(500))
                Issue.record("acquire succeeded while the lock was held")
            } catch let error as CoordinationError {
                #expect(error.code == .timedOut)
            }
            #expect(ContinuousClock.now - started < .milliseconds(500) + .seconds(2))

            // Cancellation: .cancelled within 2 s of the cancel.
            let waiting = Task { try await theirs.acquire() }
            try await Task.sleep(for: .milliseconds(200))
            let cancelledAt = ContinuousClock.now
            waiting.cancel()
            do {
                _ = try await waiting.value
                Issue.record("a cancelled acquire succeeded")
            } catch let error as CoordinationError {
                #expect(error.code == .cancelled)
            }
            #expect(ContinuousClock.now - cancelledAt < .seconds(2))

            // The given-up waiters left nothing behind: after the release the lock is free at once.
            try await held.release()
            #expect(!held.isHeld)
            let events = held.events
            var iterator = events.makeAsyncIterator()
            #expect(await iterator.next() == .released)

            let value = try await theirs.withLock { lease -> UInt64 in
                #expect(lease.isHeld)
                return lease.token
            }
            #expect(value > held.token, "the next holder's token \(value) > \(held.token)")
            let again = try #require(try await mine.tryAcquire(), "tryAcquire after withLock released")
            #expect(again.token > value)
            try await again.release()
        }
    }
}

@Suite("Consul lock session (against the stand-in)")
struct ConsulLockSessionTests {
    @Test("the lock's session has Consul's default lock-delay (15 s) and behavior release")
    func defaultLockDelay() async throws {
        try await Harness.with(.consul, clients: 1, configure: { $0 = CoordinationStore.Configuration() }) { harness in
            let key = harness.key("delay")
            let held = try await harness.stores[0].lock(key).acquire(timeout: .seconds(10))
            let client = harness.consulClients[0]
            let entry = try #require(try await client.kv.get(String(key.dropFirst()), consistency: .consistent))
            #expect(entry.modifyIndex == held.token, "the token is the acquiring write's ModifyIndex")
            #expect(entry.lockIndex == 1)
            let sessionID = try #require(entry.session)
            let session = try #require(try await client.sessions.info(sessionID))
            #expect(session.lockDelay == .seconds(15))
            #expect(session.behavior == .release)
            try await held.release()
            #expect(try await client.sessions.info(session.id) == nil, "the session is destroyed on release")
        }
    }
}
