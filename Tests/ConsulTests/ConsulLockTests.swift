import Consul
import ConsulStandIn
import Foundation
import Testing

@Suite("Consul locks (real Consul at CONSUL_HTTP_ADDR, else the stand-in)")
struct ConsulLockTests {
    @Test func aSecondContenderWaitsUntilTheHolderReleases() async throws {
        try await withConsul { consul in
            let key = consul.key("leader")
            let a = ConsulLock(client: consul.client, key: key, value: bytes("a"), sessionTTL: consul.keeperTTL)
            let b = ConsulLock(client: consul.client, key: key, value: bytes("b"), sessionTTL: consul.keeperTTL)
            let heldByA = try await a.acquire()
            #expect(try await heldByA.isHeld())
            #expect(try await consul.client.kv.get(key)?.value == bytes("a"))

            let acquiredB = TestBox(false)
            let waiting = Task {
                let held = try await b.acquire()
                acquiredB.withLock { $0 = true }
                return held
            }
            try await Task.sleep(for: .milliseconds(500))
            #expect(acquiredB.withLock { $0 } == false)

            try await heldByA.release()
            let heldByB = try await waiting.value
            #expect(try await heldByB.isHeld())
            #expect(try await heldByA.isHeld() == false)
            let entry = try #require(try await consul.client.kv.get(key))
            #expect(entry.session == heldByB.sessionID)
            #expect(entry.value == bytes("b"))
            // A's session is gone after release.
            #expect(try await consul.client.sessions.info(heldByA.sessionID) == nil)
            try await heldByB.release()
            #expect(try await consul.client.kv.get(key)?.session == nil)
        }
    }

    @Test func theLockPassesOnWhenTheHoldersSessionIsInvalidated() async throws {
        try await withConsul { consul in
            let key = consul.key("failover")
            let a = ConsulLock(client: consul.client, key: key, value: bytes("a"), sessionTTL: consul.keeperTTL)
            let heldByA = try await a.acquire()
            let sawInvalidated = TestBox(false)
            let events = Task {
                for await event in heldByA.events {
                    if case .invalidated = event { sawInvalidated.withLock { $0 = true } }
                }
            }
            let b = ConsulLock(client: consul.client, key: key, value: bytes("b"), sessionTTL: consul.keeperTTL)
            let waiting = Task { try await b.acquire() }
            try await Task.sleep(for: .milliseconds(300))
            // An operator (or the TTL) ends A's session.
            try await consul.client.sessions.destroy(heldByA.sessionID)
            let heldByB = try await waiting.value
            #expect(try await heldByB.isHeld())
            await events.value
            #expect(sawInvalidated.withLock { $0 })
            try await heldByB.release()
        }
    }

    @Test func cancellingAWaitingAcquireStopsAndCleansUp() async throws {
        try await withConsul { consul in
            let key = consul.key("busy")
            let holder = try await ConsulLock(client: consul.client, key: key, sessionTTL: consul.keeperTTL).acquire()
            // Sessions are named after their lock's key (the agent may have other sessions).
            func lockSessions() async throws -> [ConsulSession] {
                try await consul.client.sessions.list().filter { $0.name == "lock \(key)" }
            }
            #expect(try await lockSessions().map(\.id) == [holder.sessionID])
            let contender = ConsulLock(client: consul.client, key: key, sessionTTL: consul.keeperTTL)
            let waiting = Task { try await contender.acquire() }
            try await Task.sleep(for: .milliseconds(500))
            let cancelledAt = ContinuousClock.now
            waiting.cancel()
            do {
                _ = try await waiting.value
                Issue.record("a cancelled acquire returned a lock")
            } catch let error as ConsulError {
                #expect(error.code == .cancelled)
            }
            #expect(ContinuousClock.now - cancelledAt < .seconds(3))
            // The contender's session was destroyed.
            try await waitUntilAsync { try await lockSessions().map(\.id) == [holder.sessionID] }
            #expect(try await holder.isHeld())
            try await holder.release()
        }
    }
}

/// Polls an async `condition` every 50 ms for up to `timeout`.
func waitUntilAsync(
    timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(timeout)", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(50))
    }
}
