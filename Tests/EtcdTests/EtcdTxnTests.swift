import Etcd
import StoreTestSupport
import Testing

@Suite("EtcdClient transactions against a real etcd", .enabled(if: EtcdTest.enabled))
struct EtcdTxnTests {
    @Test("create-if-absent: createRevision == 0 succeeds once, then fails and returns the current value")
    func createIfAbsent() async throws {
        try await EtcdTest.withClient { etcd in
            let key = EtcdTest.prefix() + "list"
            let first = try await etcd.txn(compare: [.createRevision(key, .equal, 0)],
                                           success: [.put(key, value: "A".bytes)], failure: [.get(key)])
            #expect(first.succeeded)
            guard case .put(let put) = try #require(first.responses.first) else {
                Issue.record("expected a put response, got \(first.responses)")
                return
            }
            #expect(put.header.revision == first.header.revision)

            let second = try await etcd.txn(compare: [.createRevision(key, .equal, 0)],
                                            success: [.put(key, value: "B".bytes)], failure: [.get(key)])
            #expect(!second.succeeded)
            guard case .range(let current) = try #require(second.responses.first) else {
                Issue.record("expected a range response, got \(second.responses)")
                return
            }
            #expect(current.kvs.first?.value == "A".bytes)
            #expect(current.kvs.first?.modRevision == first.header.revision)
            #expect(try await etcd.get(key)?.value == "A".bytes)
        }
    }

    @Test("compare-and-swap on modRevision: the stale writer loses and sees the winner's value")
    func casModRevision() async throws {
        try await EtcdTest.withClient { etcd in
            let key = EtcdTest.prefix() + "cas"
            let created = try await etcd.put(key, value: "v0".bytes)
            let seen = created.header.revision
            let winner = try await etcd.txn(compare: [.modRevision(key, .equal, seen)],
                                            success: [.put(key, value: "winner".bytes)], failure: [.get(key)])
            #expect(winner.succeeded)
            let loser = try await etcd.txn(compare: [.modRevision(key, .equal, seen)],
                                           success: [.put(key, value: "loser".bytes)], failure: [.get(key)])
            #expect(!loser.succeeded)
            guard case .range(let now) = loser.responses.first else {
                Issue.record("expected the current value in the failure branch")
                return
            }
            #expect(now.kvs.first?.value == "winner".bytes)
            #expect(now.kvs.first?.modRevision == winner.header.revision)
        }
    }

    @Test("concurrent CAS writers: exactly one wins per round")
    func concurrentCAS() async throws {
        try await EtcdTest.withClient { etcd in
            let key = EtcdTest.prefix() + "race"
            let created = try await etcd.put(key, value: "start".bytes)
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        try await etcd.txn(compare: [.modRevision(key, .equal, created.header.revision)],
                                           success: [.put(key, value: "w\(i)".bytes)], failure: [.get(key)]).succeeded
                    }
                }
                var wins = 0
                for try await won in group where won { wins += 1 }
                return wins
            }
            #expect(wins == 1)
        }
    }

    @Test("compares on value, version, lease; not-equal, greater and less")
    func compareTargets() async throws {
        try await EtcdTest.withClient { etcd in
            let key = EtcdTest.prefix() + "k"
            try await etcd.put(key, value: "abc".bytes)
            try await etcd.put(key, value: "abd".bytes)
            func check(_ compare: EtcdCompare) async throws -> Bool {
                try await etcd.txn(compare: [compare], success: [], failure: []).succeeded
            }
            #expect(try await check(.value(key, .equal, "abd".bytes)))
            #expect(!(try await check(.value(key, .equal, "abc".bytes))))
            #expect(try await check(.value(key, .greater, "abc".bytes)))
            #expect(try await check(.value(key, .less, "abe".bytes)))
            #expect(try await check(.value(key, .notEqual, "x".bytes)))
            #expect(try await check(.version(key, .equal, 2)))
            #expect(try await check(.version(key, .greater, 1)))
            #expect(!(try await check(.version(key, .less, 2))))
            #expect(try await check(.lease(key, .equal, nil)))
            #expect(try await check(.createRevision(key, .notEqual, 0)))
        }
    }

    @Test("all operation kinds in one transaction, including a nested transaction")
    func allOps() async throws {
        try await EtcdTest.withClient { etcd in
            let p = EtcdTest.prefix()
            try await etcd.put(p + "old", value: "x".bytes)
            try await etcd.put(p + "read", value: "r".bytes)
            let response = try await etcd.txn(
                compare: [],
                success: [
                    .put(p + "new", value: "n".bytes),
                    .get(p + "read"),
                    .delete(p + "old"),
                    .txn(compare: [.version(p + "read", .equal, 1)],
                         success: [.put(p + "nested", value: "yes".bytes)], failure: []),
                ],
                failure: [])
            #expect(response.succeeded)
            try #require(response.responses.count == 4)
            if case .put = response.responses[0] {} else { Issue.record("0 is not a put") }
            if case .range(let r) = response.responses[1] {
                #expect(r.kvs.first?.value == "r".bytes)
            } else { Issue.record("1 is not a range") }
            if case .delete(let d) = response.responses[2] {
                #expect(d.deleted == 1)
            } else { Issue.record("2 is not a delete") }
            if case .txn(let t) = response.responses[3] {
                #expect(t.succeeded)
                #expect(t.responses.count == 1)
            } else { Issue.record("3 is not a txn") }
            #expect(try await etcd.get(p + "nested")?.value == "yes".bytes)
            #expect(try await etcd.get(p + "old") == nil)
        }
    }

    @Test("a transaction that writes one key twice is refused with etcd's message")
    func duplicateKey() async throws {
        try await EtcdTest.withClient { etcd in
            let key = EtcdTest.prefix() + "dup"
            let error = await #expect(throws: EtcdError.self) {
                _ = try await etcd.txn(compare: [], success: [.put(key, value: [1]), .put(key, value: [2])], failure: [])
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.grpcStatus == 3)
            #expect(error?.serverMessage?.contains("duplicate key") == true)
        }
    }

    @Test("an empty key in a transaction is rejected before sending")
    func emptyKeyInTxn() async throws {
        try await EtcdTest.withClient { etcd in
            let error = await #expect(throws: EtcdError.self) {
                _ = try await etcd.txn(compare: [.version("", .equal, 0)], success: [], failure: [])
            }
            #expect(error?.code == .invalidArgument)
        }
    }
}
