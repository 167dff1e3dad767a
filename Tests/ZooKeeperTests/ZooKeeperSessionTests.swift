import Foundation
import Testing
import ZooKeeper

/// Session events, resuming a session, and forced expiry against the real ZooKeeper.
@Suite("ZooKeeper sessions", .enabled(if: ZK.enabled), .timeLimit(.minutes(2)))
struct ZooKeeperSessionTests {
    @Test("sessionEvents starts with the current state and ends with closed")
    func events() async throws {
        let zk = try await ZK.client()
        let states = Recorder(zk.sessionEvents)
        #expect(await states.wait { $0 == [.connected] })
        await zk.close()
        #expect(await states.waitFinished())
        #expect(states.elements == [.connected, .closed])
        // Iterating after close yields closed once and ends.
        let late = Recorder(zk.sessionEvents)
        #expect(await late.waitFinished())
        #expect(late.elements == [.closed])
    }

    @Test("a session can be resumed by a second client with its id and password")
    func resume() async throws {
        let first = try await ZK.client()
        let root = try await ZK.root(first)
        let session = try #require(first.session)
        #expect(session.password.count == 16)
        #expect(!"\(session)".contains("password"), "the description hides the password")
        try await first.create(root + "/eph", mode: .ephemeral)

        // Two clients on one session take the connection from each other (the server keeps only
        // the newest), so the second one's calls may see a connection loss and are retried.
        let second = try await ZK.client { $0.session = session }
        #expect(second.session?.id == session.id)
        #expect(try await ZK.retrying { try await second.exists(root + "/eph") }?.ephemeralOwner == session.id)
        // Closing ends the shared session (at once if the closing client holds the connection,
        // otherwise by timeout): its ephemeral node goes.
        await second.close()
        await first.close()
        let observer = try await ZK.client()
        var gone = false
        for _ in 0..<150 where !gone {
            gone = try await observer.exists(root + "/eph") == nil
            if !gone { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(gone)
        await ZK.deleteTree(observer, root)
        await observer.close()
    }

    @Test("resuming an unknown session fails with .sessionExpired")
    func resumeUnknown() async throws {
        let error = await ZK.error {
            _ = try await ZK.client { $0.session = ZooKeeperSession(id: 0x0bad_cafe, password: [UInt8](repeating: 9, count: 16)) }
        }
        #expect(error?.code == .sessionExpired)
    }

    @Test("forced expiry: expired event, a new session, ephemeral nodes gone, watches re-armed")
    func expiryReopens() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        try await zk.create(root + "/data", data: .utf8("before"))
        try await zk.create(root + "/eph", mode: .ephemeral)
        let oldSession = try #require(zk.session)
        let states = Recorder(zk.sessionEvents)
        let dataEvents = Recorder(zk.watch(root + "/data"))
        let childEvents = Recorder(zk.watchChildren(root))
        #expect(await dataEvents.wait { $0.count == 1 })
        #expect(await childEvents.wait { $0.last?.children == ["data", "eph"] })

        // Expire the session: a second handle on it closes it.
        try await ZK.expire(oldSession) { states.elements.contains(.expired) }

        #expect(await states.wait { $0.contains(.expired) && $0.last == .connected }, "states: \(states.elements)")
        #expect(states.elements.drop { $0 != .expired } == [.expired, .connecting, .connected], "states: \(states.elements)")
        let newSession = try #require(zk.session)
        #expect(newSession.id != oldSession.id)
        #expect(try await zk.exists(root + "/eph") == nil, "the old session's ephemeral node is gone")
        #expect(await childEvents.wait { $0.last?.children == ["data"] }, "the children watch saw the ephemeral go")

        // Watches were re-armed on the new session.
        try await zk.set(root + "/data", data: .utf8("after"))
        #expect(await dataEvents.wait { $0.last?.data == .utf8("after") })
        try await zk.create(root + "/eph", mode: .ephemeral)
        #expect(await childEvents.wait { $0.last?.children == ["data", "eph"] })
        #expect(try await zk.exists(root + "/eph")?.ephemeralOwner == newSession.id)
        #expect(dataEvents.error == nil && childEvents.error == nil)

        dataEvents.cancel()
        childEvents.cancel()
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("with reopenExpiredSession off, expiry fails calls and ends watches with .sessionExpired")
    func expiryWithoutReopen() async throws {
        let zk = try await ZK.client { $0.reopenExpiredSession = false }
        let root = try await ZK.root(zk)
        let states = Recorder(zk.sessionEvents)
        let events = Recorder(zk.watch(root))
        #expect(await events.wait { $0.count == 1 })
        try await ZK.expire(zk.session) { states.elements.contains(.expired) }
        #expect(await states.wait { $0.last == .expired }, "states: \(states.elements)")
        #expect(await events.waitFinished())
        #expect((events.error as? ZooKeeperError)?.code == .sessionExpired)
        let error = await ZK.error { _ = try await zk.exists(root) }
        #expect(error?.code == .sessionExpired)
        #expect(error?.message.contains("close this client") == true)
        await zk.close()
        #expect(await states.waitFinished())
        let cleaner = try await ZK.client()
        await ZK.deleteTree(cleaner, root)
        await cleaner.close()
    }
}
