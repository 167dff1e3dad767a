import AutoCluster
import Etcd
import Foundation
import NodeList
import StoreTestSupport
import Testing

/// Issue 8's "an etcd lease revoked under a kept-alive member", against the shared etcd.
@Suite("an etcd lease revoked under a kept-alive member", .enabled(if: TestStores.shouldRun(TestStores.etcdEndpoints)),
       .timeLimit(.minutes(3)))
struct LeaseRevocationTests {
    typealias Stamped = (event: EtcdLeaseKeepAliveEvent, at: ContinuousClock.Instant)

    /// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
    static func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    @Test("""
        another client revokes the member's kept-alive lease: .expired within one renewal period, the presence key gone, \
        the lease no longer renewed, no error storm, the node-list entry untouched, and a fresh lease kept alive by the same client
        """)
    func revokedUnderKeptAliveMember() async throws {
        let endpoints = try TestStores.require(TestStores.etcdEndpoints, "ETCD_ENDPOINTS")
        let logs = LogCapture()
        var configuration = EtcdClient.Configuration(endpoints: endpoints)
        configuration.logger = logs.logger("member.etcd")
        let member = try await EtcdClient.connect(configuration)
        let other = try await EtcdClient.connect(.init(endpoints: endpoints))
        let prefix = "/" + uniqueName("lease")
        let listKey = prefix + "/nodes"
        let presenceKey = prefix + "/presence/m1"
        let ttl = Duration.seconds(3)

        // The member: listed in a node list, present under a lease it keeps alive.
        let m1 = try await KeptAliveMember.start(
            member: member, other: other, listKey: listKey, presenceKey: presenceKey, presence: Array("m1".utf8), ttl: ttl)
        let (store, me, listBefore, lease, events, keeperEnded, keeper) =
            (m1.store, m1.me, m1.listBefore, m1.lease, m1.events, m1.keeperEnded, m1.keeper)
        // Kept alive past its TTL: the keep-alive works before anything is revoked.
        try await Task.sleep(for: ttl + .seconds(1))
        #expect(events.value.filter { $0.event != .expired }.count >= 2, "renewals before the revoke: \(events.value.map(\.event))")
        #expect(try await other.get(presenceKey)?.lease == lease.id.rawValue)

        let logLinesBefore = logs.lines.count
        let revokedAt = ContinuousClock.now
        try await other.revokeLease(lease.id)

        // The keep-alive reports the loss: the next renewal (due within TTL/3) finds the lease
        // gone. The bound: one TTL, plus the one timing slack.
        let reported = try await Self.eventually(within: ttl + timingSlack) { events.value.last?.event == .expired }
        #expect(reported, "no .expired within \(ttl + timingSlack) of the revoke: \(events.value.map(\.event))")
        if let expiredAt = events.value.last(where: { $0.event == .expired })?.at {
            #expect(expiredAt - revokedAt < ttl + timingSlack, "reported \(expiredAt - revokedAt) after the revoke")
        }
        // … and ends: nothing after .expired, the iteration finishes without an error.
        let ended = try await Self.eventually(within: .seconds(2)) { keeperEnded.value }
        #expect(ended, "the keep-alive sequence did not end after .expired")
        if ended { try await keeper.value } else { keeper.cancel() }
        #expect(events.value.filter { $0.event == .expired }.count == 1)
        #expect(events.value.last?.event == .expired)

        // The presence key went with the lease; etcd reports the lease gone to the member.
        #expect(try await other.get(presenceKey) == nil)
        #expect(try await member.leaseTimeToLive(lease.id).remaining == nil)

        // The member's client no longer renews that lease: granted again under the same ID (by
        // the other client, with no keep-alive), it must expire on its own after its TTL.
        let again = try await other.grantLease(ttl: ttl, id: lease.id)
        #expect(again.id == lease.id)
        try await other.put(presenceKey + "-again", value: [1], lease: again.id)
        // (etcd reports an expired lease before its leader has deleted the keys: wait for both.)
        let expiredOnItsOwn = try await Self.eventually(within: ttl + .seconds(4)) {
            let gone = try await other.leaseTimeToLive(lease.id).remaining == nil
            let keyGone = try await other.get(presenceKey + "-again") == nil
            return gone && keyGone
        }
        #expect(expiredOnItsOwn, "the re-granted lease \(lease.id) was kept alive: the member still renews a revoked lease")

        // No error storm: at most a few warnings about the loss, not one per renewal period.
        let noisy = logs.lines.dropFirst(logLinesBefore).filter {
            $0.hasPrefix("warning") || $0.hasPrefix("error") || $0.hasPrefix("critical")
        }
        #expect(noisy.count <= 3, "warnings after the revoke: \(noisy)")

        // The node-list entry is a different key: untouched, byte for byte and version.
        let listAfter = try #require(try await other.get(listKey))
        #expect(listAfter.value == listBefore.value)
        #expect(listAfter.modRevision == listBefore.modRevision)
        #expect(try await store.nodes().map(\.incarnation) == [me.incarnation])

        // The same client grants a fresh lease and keeps it alive past two TTLs.
        let (fresh, freshKeeper) = try await m1.keepFreshLeaseAlive()
        #expect(fresh.id != lease.id)
        #expect(try await other.leaseTimeToLive(fresh.id).remaining != nil)

        freshKeeper.cancel()
        _ = try? await freshKeeper.value
        _ = try? await other.revokeLease(fresh.id)
        _ = try? await other.delete(prefix: prefix)
        await member.close()
        await other.close()
    }
}

/// The same while the member's connection is interrupted: its etcd member (of three, started by
/// the test on ports 28060–28065) is frozen with SIGSTOP while another client revokes the lease
/// through the other two.
@Suite("an etcd lease revoked while the kept-alive member's etcd is frozen (own servers on ports 28060-28065)",
       .serialized, .enabled(if: Faults.enabled, Faults.missing), .timeLimit(.minutes(3)))
struct LeaseRevocationFaultTests {
    @Test("the member's etcd frozen, the lease revoked through the others: .expired within its TTL, then after SIGCONT the key and lease are gone, the entry untouched, a fresh lease kept alive")
    func revokedWhileInterrupted() async throws {
        let directory = try TestServer.makeDirectory("lease-revoke")
        let servers = TestServer.etcdCluster(count: 3, basePort: 28060, directory: directory)
        defer { TestServer.stopAll(servers, removing: directory) }
        for server in servers { try server.start() }
        for server in servers { try await server.waitHealthy() }
        let memberServer = servers[0]
        let member = try await EtcdClient.connect(EtcdFaultTests.configuration([memberServer.endpoint]))
        let other = try await EtcdClient.connect(EtcdFaultTests.configuration(servers.dropFirst().map(\.endpoint)))
        let listKey = "/lease-revoke/nodes"
        let presenceKey = "/lease-revoke/presence/m1"
        let ttl = Duration.seconds(3)

        let m1 = try await KeptAliveMember.start(
            member: member, other: other, listKey: listKey, presenceKey: presenceKey, presence: [1], ttl: ttl)
        let (listBefore, lease, events, keeperEnded, keeper) = (m1.listBefore, m1.lease, m1.events, m1.keeperEnded, m1.keeper)
        try await Task.sleep(for: ttl + .seconds(1))
        #expect(events.value.filter { $0.event != .expired }.count >= 2, "renewals before the freeze: \(events.value.map(\.event))")

        #expect(await memberServer.freeze(), "the member's etcd is stopped")
        let frozenAt = ContinuousClock.now
        // The other two may first have to elect a leader (if the frozen one led).
        let revoked = await retryUntil(.seconds(15)) {
            do {
                try await other.revokeLease(lease.id)
            } catch let error as EtcdError where error.code == .notFound {
                // An earlier attempt that timed out on the client had revoked it.
            }
        }
        #expect(revoked, "the lease could not be revoked through the other members")

        // No renewal can succeed while frozen: the client declares the lease lost once its TTL
        // has passed since the last renewal (bound: one TTL after the freeze, plus the one slack).
        let reported = try await LeaseRevocationTests.eventually(within: ttl + timingSlack) { events.value.last?.event == .expired }
        #expect(reported, "no .expired while the member's etcd was frozen: \(events.value.map(\.event))")
        if let expiredAt = events.value.last(where: { $0.event == .expired })?.at {
            #expect(expiredAt - frozenAt < ttl + timingSlack, "reported \(expiredAt - frozenAt) after the freeze")
        }
        #expect(try await LeaseRevocationTests.eventually(within: .seconds(3)) { keeperEnded.value }, "the keep-alive did not end")
        if keeperEnded.value { try await keeper.value } else { keeper.cancel() }
        #expect(events.value.filter { $0.event == .expired }.count == 1)

        memberServer.signal(SIGCONT)
        let recovered = await retryUntil(.seconds(20)) { _ = try await member.get(listKey) }
        #expect(recovered, "the member's client did not recover after SIGCONT")
        #expect(try await member.get(presenceKey) == nil)
        #expect(try await member.leaseTimeToLive(lease.id).remaining == nil)

        // Not renewed behind our back after the reconnect: re-granted, it expires on its own.
        _ = try await other.grantLease(ttl: ttl, id: lease.id)
        let expiredOnItsOwn = try await LeaseRevocationTests.eventually(within: ttl + .seconds(4)) {
            try await other.leaseTimeToLive(lease.id).remaining == nil
        }
        #expect(expiredOnItsOwn, "the member's client renewed the revoked lease after reconnecting")

        let listAfter = try #require(try await other.get(listKey))
        #expect(listAfter.value == listBefore.value)
        #expect(listAfter.modRevision == listBefore.modRevision)

        let (_, freshKeeper) = try await m1.keepFreshLeaseAlive()
        freshKeeper.cancel()
        _ = try? await freshKeeper.value
        await member.close()
        await other.close()
    }
}

/// The member both suites revoke a lease under: listed in the node list at `listKey` (joined
/// through `member`) and present at `presenceKey` under a lease of `ttl` that `member` keeps alive.
private struct KeptAliveMember {
    let member: EtcdClient
    let other: EtcdClient
    let presenceKey: String
    let presence: [UInt8]
    let ttl: Duration
    let store: NodeListStore
    let me: ClusterNode
    /// The node list as `other` read it right after the join.
    let listBefore: EtcdKeyValue
    let lease: EtcdLease
    /// Every keep-alive event, stamped with when it arrived.
    let events: Locked<[LeaseRevocationTests.Stamped]>
    /// Set once the keep-alive sequence has ended.
    let keeperEnded: Locked<Bool>
    /// Iterates `member.keepAlive(lease.id)` into `events`.
    let keeper: Task<Void, any Error>

    static func start(member: EtcdClient, other: EtcdClient, listKey: String, presenceKey: String,
                      presence: [UInt8], ttl: Duration) async throws -> KeptAliveMember {
        let store = NodeListStore(backend: .etcd(member), key: listKey, probe: NoProbe())
        let me = ClusterNode(name: "m1", address: "127.0.0.1:7001")
        try await store.join(me)
        let listBefore = try #require(try await other.get(listKey))
        let lease = try await member.grantLease(ttl: ttl)
        try await member.put(presenceKey, value: presence, lease: lease.id)
        let events = Locked<[LeaseRevocationTests.Stamped]>([])
        let keeperEnded = Locked(false)
        let keeper = Task {
            defer { keeperEnded.withLock { $0 = true } }
            for try await event in member.keepAlive(lease.id) { events.withLock { $0.append((event, .now)) } }
        }
        return KeptAliveMember(
            member: member, other: other, presenceKey: presenceKey, presence: presence, ttl: ttl, store: store, me: me,
            listBefore: listBefore, lease: lease, events: events, keeperEnded: keeperEnded, keeper: keeper)
    }

    /// After the revoke: `member` grants a fresh lease, puts the presence key under it and keeps
    /// it alive for two TTLs — at least 3 renewals, the key held by the fresh lease. Returns the
    /// lease and its keep-alive task, still running (the caller cancels it).
    func keepFreshLeaseAlive() async throws -> (lease: EtcdLease, keeper: Task<Void, any Error>) {
        let fresh = try await member.grantLease(ttl: ttl)
        try await member.put(presenceKey, value: presence, lease: fresh.id)
        let renewals = Locked(0)
        let freshKeeper = Task {
            for try await event in member.keepAlive(fresh.id) {
                if case .renewed = event { renewals.withLock { $0 += 1 } }
            }
        }
        try await Task.sleep(for: ttl * 2)
        #expect(renewals.value >= 3, "renewals of the fresh lease in two TTLs: \(renewals.value)")
        #expect(try await other.get(presenceKey)?.lease == fresh.id.rawValue)
        return (fresh, freshKeeper)
    }
}
