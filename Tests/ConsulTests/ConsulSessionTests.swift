import Consul
import ConsulStandIn
import Foundation
import Logging
import ServiceLifecycle
import Testing

@Suite("Consul sessions and locks (real Consul at CONSUL_HTTP_ADDR, else the stand-in)")
struct ConsulSessionTests {
    @Test func createInfoListDestroy() async throws {
        try await withConsul { consul in
            let sessions = consul.client.sessions
            let name = consul.key("session")
            let id = try await sessions.create(
                name: name, ttl: consul.comfortableTTL, behavior: .delete, lockDelay: .seconds(2), nodeChecks: [])
            #expect(!id.isEmpty)
            let info = try #require(try await sessions.info(id, consistency: .consistent))
            #expect(info.id == id)
            #expect(info.name == name)
            #expect(info.behavior == .delete)
            #expect(info.ttl == consul.comfortableTTL)
            #expect(info.lockDelay == .seconds(2))
            #expect(info.nodeChecks == [])
            #expect(info.createIndex > 0)
            #expect(try await sessions.list().contains { $0.id == id })
            #expect(try await sessions.list(node: info.node).contains { $0.id == id })

            let renewed = try await sessions.renew(id)
            #expect(renewed.id == id)

            try await sessions.destroy(id)
            #expect(try await sessions.info(id) == nil)
            #expect(try await sessions.list().contains { $0.id == id } == false)
            let error = await expectConsulError(.sessionInvalidated) { try await sessions.renew(id) }
            #expect(error?.message.contains("create a new session") == true)
        }
    }

    @Test func blockingSessionQueriesReturnOnChange() async throws {
        try await withConsul { consul in
            let sessions = consul.client.sessions
            let id = try await sessions.create(ttl: consul.comfortableTTL, nodeChecks: [])
            let info = try await sessions.info(id, waitIndex: nil, wait: nil)
            #expect(info.value?.id == id)
            let list = try await sessions.list(waitIndex: nil, wait: nil)
            let infoWaiter = Task { try await sessions.info(id, waitIndex: info.index, wait: .seconds(20)) }
            let listWaiter = Task { try await sessions.list(waitIndex: list.index, wait: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(300))
            try await sessions.destroy(id)
            let infoAfter = try await infoWaiter.value
            #expect(infoAfter.value == nil)
            #expect(infoAfter.index > info.index)
            // Other suites may change sessions of a shared Consul too: block again until ours is gone.
            var listAfter = try await listWaiter.value
            let deadline = ContinuousClock.now + .seconds(20)
            while listAfter.value.contains(where: { $0.id == id }), ContinuousClock.now < deadline {
                listAfter = try await sessions.list(waitIndex: listAfter.index, wait: .seconds(5))
            }
            #expect(!listAfter.value.contains { $0.id == id })
            #expect(listAfter.index > list.index)
        }
    }

    @Test func defaultSessionIsTiedToSerfHealthAndReleases() async throws {
        try await withConsul { consul in
            let id = try await consul.client.sessions.create()
            let info = try #require(try await consul.client.sessions.info(id))
            #expect(info.behavior == .release)
            #expect(info.ttl == nil)
            #expect(info.nodeChecks.contains("serfHealth"))
            #expect(info.lockDelay == .seconds(15))
            try await consul.client.sessions.destroy(id)
        }
    }

    @Test func locksAreExclusiveAndReleasedOnlyByTheirHolder() async throws {
        try await withConsul { consul in
            let kv = consul.client.kv
            let sessions = consul.client.sessions
            let key = consul.key("lock")
            let a = try await sessions.create(name: "a", lockDelay: .zero)
            let b = try await sessions.create(name: "b", lockDelay: .zero)

            #expect(try await kv.acquire(key, session: a, value: bytes("held by a")))
            let held = try #require(try await kv.get(key))
            #expect(held.session == a)
            #expect(held.lockIndex == 1)
            #expect(held.value == bytes("held by a"))

            #expect(try await kv.acquire(key, session: b) == false)
            #expect(try await kv.release(key, session: b) == false)
            #expect(try await kv.get(key)?.session == a)
            // Re-acquiring a lock one already holds succeeds and does not bump LockIndex.
            #expect(try await kv.acquire(key, session: a, value: bytes("still a")))
            #expect(try await kv.get(key)?.lockIndex == 1)

            #expect(try await kv.release(key, session: a))
            let released = try #require(try await kv.get(key))
            #expect(released.session == nil)
            #expect(released.lockIndex == 1)

            #expect(try await kv.acquire(key, session: b))
            #expect(try await kv.get(key)?.lockIndex == 2)
            try await sessions.destroy(a)
            try await sessions.destroy(b)
        }
    }

    @Test func acquiringWithAnUnknownSessionIsAnError() async throws {
        try await withConsul { consul in
            let unknown = UUID().uuidString.lowercased()
            await expectConsulError(.sessionInvalidated) {
                try await consul.client.kv.acquire(consul.key("nolock"), session: unknown)
            }
        }
    }

    @Test func destroyingASessionReleasesItsLocksAndAppliesTheLockDelay() async throws {
        try await withConsul { consul in
            let kv = consul.client.kv
            let key = consul.key("delayed")
            let a = try await consul.client.sessions.create(lockDelay: .seconds(2))
            let b = try await consul.client.sessions.create(lockDelay: .zero)
            #expect(try await kv.acquire(key, session: a))
            try await consul.client.sessions.destroy(a)
            let entry = try #require(try await kv.get(key))
            #expect(entry.session == nil)
            // Within the lock delay nobody can take the lock …
            #expect(try await kv.acquire(key, session: b) == false)
            // … after it, they can.
            try await Task.sleep(for: .milliseconds(2_300))
            #expect(try await kv.acquire(key, session: b))
            try await consul.client.sessions.destroy(b)
        }
    }

    @Test(arguments: [ConsulSessionBehavior.release, .delete])
    func ttlExpiryInvalidatesTheSession(behavior: ConsulSessionBehavior) async throws {
        try await withConsul { consul in
            let kv = consul.client.kv
            let key = consul.key("ephemeral-\(behavior)")
            let id = try await consul.client.sessions.create(
                ttl: consul.minimumTTL, behavior: behavior, lockDelay: .zero, nodeChecks: [])
            #expect(try await kv.acquire(key, session: id, value: bytes("mine")))
            // Consul invalidates between TTL and 2 × TTL after the last renewal.
            let deadline = ContinuousClock.now + consul.minimumTTL * 2 + .seconds(5)
            var invalidated = false
            while ContinuousClock.now < deadline {
                if try await consul.client.sessions.info(id) == nil {
                    invalidated = true
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(invalidated)
            let entry = try await kv.get(key)
            switch behavior {
            case .release:
                #expect(entry?.session == nil)
                #expect(entry?.value == bytes("mine"))
            case .delete:
                #expect(entry == nil)
            }
        }
    }

    @Test func sessionKeeperKeepsATTLSessionAliveAndDestroysItOnShutdown() async throws {
        try await withConsul { consul in
            let ttl = consul.keeperTTL
            let id = try await consul.client.sessions.create(ttl: ttl, behavior: .delete, nodeChecks: [])
            let key = consul.key("kept")
            #expect(try await consul.client.kv.acquire(key, session: id))
            let keeper = ConsulSessionKeeper(client: consul.client, sessionID: id, ttl: ttl)
            let renewals = TestBox(0)
            let events = Task {
                for await event in keeper.events {
                    if case .renewed = event { renewals.withLock { $0 += 1 } }
                }
            }
            let running = Task { try await keeper.run() }
            // Well past the longest the session would live unrenewed (2 × TTL).
            try await Task.sleep(for: ttl * 3)
            #expect(try await consul.client.sessions.info(id) != nil)
            #expect(try await consul.client.kv.get(key)?.session == id)
            #expect(renewals.withLock { $0 } >= 3)

            running.cancel()
            try await running.value
            await events.value
            // Destroyed on shutdown: the delete-behaviour key is gone at once.
            #expect(try await consul.client.sessions.info(id) == nil)
            #expect(try await consul.client.kv.get(key) == nil)
        }
    }

    @Test func sessionKeeperReportsInvalidation() async throws {
        try await withConsul { consul in
            let ttl = consul.minimumTTL
            let id = try await consul.client.sessions.create(ttl: ttl, nodeChecks: [])
            let keeper = ConsulSessionKeeper(client: consul.client, sessionID: id, ttl: ttl)
            let sawInvalidated = TestBox(false)
            let events = Task {
                for await event in keeper.events {
                    if case .invalidated = event { sawInvalidated.withLock { $0 = true } }
                }
            }
            let running = Task { try await keeper.run() }
            try await Task.sleep(for: .milliseconds(100))
            try await consul.client.sessions.destroy(id)  // e.g. an operator, or the TTL ran out
            let started = ContinuousClock.now
            do {
                try await running.value
                Issue.record("run() returned although the session was destroyed")
            } catch let error as ConsulError {
                #expect(error.code == .sessionInvalidated)
            }
            #expect(ContinuousClock.now - started <= ttl)
            await events.value
            #expect(sawInvalidated.withLock { $0 })
        }
    }

    @Test func sessionKeeperStopsOnGracefulShutdownOfItsServiceGroup() async throws {
        try await withConsul { consul in
            let ttl = consul.comfortableTTL  // so only the keeper's destroy can end it
            let id = try await consul.client.sessions.create(ttl: ttl, nodeChecks: [])
            let keeper = ConsulSessionKeeper(client: consul.client, sessionID: id, ttl: ttl)
            let group = ServiceGroup(
                configuration: .init(
                    services: [.init(service: keeper)], gracefulShutdownSignals: [],
                    logger: .init(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
            let running = Task { try await group.run() }
            try await Task.sleep(for: .milliseconds(200))
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(try await consul.client.sessions.info(id) == nil)
        }
    }

    @Test func invalidSessionArgumentsAreRejectedBeforeSending() async throws {
        let client = ConsulClient(.init(address: "http://127.0.0.1:1"))
        await expectConsulError(.invalidArgument) { try await client.sessions.create(ttl: .zero) }
        await expectConsulError(.invalidArgument) { try await client.sessions.renew("") }
        await expectConsulError(.invalidArgument) { try await client.sessions.destroy("a/b") }
        try await client.shutdown()
    }
}
