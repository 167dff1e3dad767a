import Etcd
import StoreTestSupport
import Testing

@Suite("EtcdClient leases, cluster and status against a real etcd", .enabled(if: EtcdTest.enabled))
struct EtcdLeaseTests {
    @Test("grant, timeToLive with keys, leases list, revoke deletes the keys")
    func grantRevoke() async throws {
        try await EtcdTest.withClient { etcd in
            let p = EtcdTest.prefix()
            let lease = try await etcd.grantLease(ttl: .seconds(60))
            #expect(lease.ttl == .seconds(60))
            try await etcd.put(p + "a", value: [1], lease: lease.id)
            try await etcd.put(p + "b", value: [2], lease: lease.id)
            #expect(try await etcd.get(p + "a")?.lease == lease.id.rawValue)

            let ttl = try await etcd.leaseTimeToLive(lease.id, keys: true)
            #expect(ttl.id == lease.id)
            #expect(ttl.grantedTTL == .seconds(60))
            #expect(ttl.remaining != nil && ttl.remaining! <= .seconds(60) && ttl.remaining! > .seconds(50))
            #expect(Set(ttl.keys.map { String(decoding: $0, as: UTF8.self) }) == [p + "a", p + "b"])
            #expect(try await etcd.leases().contains(lease.id))

            try await etcd.revokeLease(lease.id)
            #expect(try await etcd.range(prefix: p).kvs.isEmpty)
            #expect(try await etcd.leaseTimeToLive(lease.id).remaining == nil)
            #expect(!(try await etcd.leases().contains(lease.id)))
        }
    }

    @Test("revoking an unknown lease and putting with one fail with .notFound and etcd's message")
    func unknownLease() async throws {
        try await EtcdTest.withClient { etcd in
            let bogus = EtcdLeaseID(0x7eed_0000_0000_0001)
            let revoke = await #expect(throws: EtcdError.self) { try await etcd.revokeLease(bogus) }
            #expect(revoke?.code == .notFound)
            #expect(revoke?.grpcStatus == 5)
            #expect(revoke?.serverMessage?.contains("lease not found") == true)
            let put = await #expect(throws: EtcdError.self) {
                try await etcd.put(EtcdTest.prefix() + "k", value: [1], lease: bogus)
            }
            #expect(put?.code == .notFound)
        }
    }

    @Test("keys of an expired lease disappear; kept-alive ones stay")
    func expiryAndKeepAlive() async throws {
        try await EtcdTest.withClient { etcd in
            let p = EtcdTest.prefix()
            let dying = try await etcd.grantLease(ttl: .seconds(2))
            let living = try await etcd.grantLease(ttl: .seconds(6))
            try await etcd.put(p + "dying", value: [1], lease: dying.id)
            try await etcd.put(p + "living", value: [1], lease: living.id)
            let keepAlive = etcd.keepAlive(living.id)
            let renewals = Task { () -> Int in
                var count = 0
                for try await event in keepAlive {
                    if case .renewed(let ttl) = event {
                        #expect(ttl == .seconds(6))
                        count += 1
                    }
                }
                return count
            }
            try await Task.sleep(for: .seconds(9))
            #expect(try await etcd.get(p + "dying") == nil)
            #expect(try await etcd.get(p + "living") != nil)
            // 9 s at a renewal every third of 6 s: several renewals, although the TTL passed.
            try await etcd.revokeLease(living.id)
            let count = try await renewals.value
            #expect(count >= 3)
            #expect(try await etcd.get(p + "living") == nil)
        }
    }

    @Test("a kept-alive lease that is revoked reports .expired and ends")
    func keepAliveReportsLoss() async throws {
        try await EtcdTest.withClient { etcd in
            let lease = try await etcd.grantLease(ttl: .seconds(3))
            var iterator = etcd.keepAlive(lease.id).makeAsyncIterator()
            let first = try await iterator.next()
            #expect(first == .renewed(ttl: .seconds(3)))
            try await etcd.revokeLease(lease.id)
            var last: EtcdLeaseKeepAliveEvent?
            while let event = try await iterator.next() { last = event }
            #expect(last == .expired)
        }
    }

    @Test("keepAlive of a lease that does not exist reports .expired at once")
    func keepAliveUnknown() async throws {
        try await EtcdTest.withClient { etcd in
            var events: [EtcdLeaseKeepAliveEvent] = []
            for try await event in etcd.keepAlive(EtcdLeaseID(0x7eed_0000_0000_0002)) { events.append(event) }
            #expect(events == [.expired])
        }
    }

    @Test("memberList and status describe the member")
    func clusterAndStatus() async throws {
        try await EtcdTest.withClient { etcd in
            let members = try await etcd.memberList()
            #expect(members.count == 1)
            let endpoint = try EtcdTest.endpoints()[0]
            #expect(members.first?.clientURLs.contains(endpoint) == true)
            let status = try await etcd.status()
            #expect(status.version.hasPrefix("3."))
            #expect(status.leader == members.first?.id)
            #expect(status.header.memberID == members.first?.id)
            #expect(status.dbSize > 0)
        }
    }
}
