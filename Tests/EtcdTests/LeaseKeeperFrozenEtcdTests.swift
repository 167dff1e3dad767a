@testable import Etcd
import Foundation
import StoreTestSupport
import Testing

/// Lease keep-alives against an etcd the test starts itself (ports 29380–29381) and freezes
/// with SIGSTOP before the first renewal, so no renewal is ever answered.
@Suite("Lease keep-alive whose first renewal is never answered (own etcd, ports 29380-29381, frozen)",
       .serialized, .enabled(if: EtcdTest.enabled), .timeLimit(.minutes(2)))
struct LeaseKeeperFrozenEtcdTests {
    typealias Stamped = (event: EtcdLeaseKeepAliveEvent, at: ContinuousClock.Instant)

    @Test("etcd frozen before keepAlive(lease): .expired no later than TTL + one tick + the slack after the call, then the end; keepAlive(id) ends with the TTL lookup's error within its overall deadline; after SIGCONT a fresh lease is kept alive")
    func firstRenewalNeverAnswered() async throws {
        let server = try await PrivateEtcd(count: 1, basePort: 29380)
        defer { server.stop() }  // SIGKILL, then SIGCONT: also ends a frozen member
        var configuration = EtcdClient.Configuration(endpoints: server.endpoints)
        let overall = Duration.seconds(3)
        configuration.timeouts = .init(connect: .seconds(1), request: .seconds(1), overall: overall)
        configuration.retry = .init(maxAttempts: 3, initialBackoff: .milliseconds(100), maxBackoff: .seconds(1))
        let etcd = try await EtcdClient.connect(configuration)
        let ttl = Duration.seconds(3)
        let lease = try await etcd.grantLease(ttl: ttl)
        #expect(lease.ttl == ttl)
        try await etcd.put("frozen/k", value: [1], lease: lease.id)
        // Another lease for keepAlive(id): a second keepAlive of the same lease would replace the first.
        let second = try await etcd.grantLease(ttl: ttl)

        server.freeze(0)
        let called = ContinuousClock.now
        let keptAlive = etcd.keepAlive(lease)
        let byID = etcd.keepAlive(second.id)
        let granted = Task { () -> (events: [Stamped], ended: ContinuousClock.Instant) in
            var events: [Stamped] = []
            for try await event in keptAlive { events.append((event, .now)) }
            return (events, .now)
        }
        let idOnly = Task { () -> (events: [EtcdLeaseKeepAliveEvent], error: (any Error)?, ended: ContinuousClock.Instant) in
            var events: [EtcdLeaseKeepAliveEvent] = []
            do {
                for try await event in byID { events.append(event) }
            } catch {
                return (events, error, .now)
            }
            return (events, nil, .now)
        }
        // A watchdog: without the fix the keep-alive waits forever; the test must fail, not hang.
        let watchdog = Task {
            try await Task.sleep(for: ttl + .seconds(15))
            granted.cancel()
            idOnly.cancel()
        }
        defer { watchdog.cancel() }

        let bound = ttl + LeaseKeeper.tick + TestStores.timingSlack
        let (events, ended) = try await granted.value
        #expect(events.map(\.event) == [.expired], "events of the frozen keep-alive: \(events.map(\.event))")
        if let expiredAt = events.first(where: { $0.event == .expired })?.at {
            #expect(expiredAt - called <= bound, ".expired \(expiredAt - called) after the call; bound \(bound)")
            #expect(expiredAt - called >= ttl - .milliseconds(50), ".expired \(expiredAt - called) after the call, before the TTL")
        }
        #expect(ended - called <= bound + .milliseconds(100), "the sequence ended \(ended - called) after the call")

        let idResult = await idOnly.value
        #expect(idResult.events.isEmpty)
        let error = idResult.error as? EtcdError
        #expect(error?.code == .deadlineExceeded, "keepAlive(id) of the frozen etcd ended with \(String(describing: idResult.error))")
        #expect(idResult.ended - called <= overall + TestStores.timingSlack, "keepAlive(id) ended \(idResult.ended - called) after the call")

        server.freeze(0, false)
        // The same client serves again by itself; the unrenewed lease expires on the server too.
        var recovered = false
        for _ in 0..<50 where !recovered {
            recovered = (try? await etcd.status()) != nil
            if !recovered { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(recovered, "the client did not serve again after SIGCONT")
        var gone = false
        for _ in 0..<50 where !gone {
            do {
                gone = try await etcd.leaseTimeToLive(lease.id).remaining == nil
            } catch {}
            if !gone { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(gone, "the unrenewed lease was still alive on etcd")
        #expect(try await etcd.get("frozen/k") == nil)
        // A fresh lease is kept alive: its first renewal is answered.
        let fresh = try await etcd.grantLease(ttl: ttl)
        var iterator = etcd.keepAlive(fresh).makeAsyncIterator()
        #expect(try await iterator.next() == .renewed(ttl: ttl))
        _ = try? await etcd.revokeLease(fresh.id)
        await etcd.close()
    }
}
