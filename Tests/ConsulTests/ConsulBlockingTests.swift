@testable import Consul
import ConsulStandIn
import Foundation
import NIOCore
import NIOPosix
import StoreTestSupport
import Testing

@Suite("Consul blocking queries and watches (real Consul at CONSUL_HTTP_ADDR, else the stand-in)")
struct ConsulBlockingTests {
    @Test func blockingGetReturnsWhenTheKeyChanges() async throws {
        try await withConsul { consul in
            let key = consul.key("block")
            try await consul.client.kv.put(key, value: bytes("v1"))
            let first = try await consul.client.kv.getWithMeta(key)
            #expect(first.index > 0)
            let client = consul.client
            let started = ContinuousClock.now
            let waiter = Task {
                try await client.kv.get(key, waitIndex: first.index, wait: .seconds(20))
            }
            try await Task.sleep(for: .milliseconds(300))
            try await client.kv.put(key, value: bytes("v2"))
            let result = try await waiter.value
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(result.value?.value == bytes("v2"))
            #expect(result.index > first.index)
            #expect(result.index == result.value?.modifyIndex)
        }
    }

    @Test func blockingGetReturnsAfterWaitWithoutChange() async throws {
        try await withConsul { consul in
            let key = consul.key("quiet")
            try await consul.client.kv.put(key, value: bytes("v"))
            let first = try await consul.client.kv.getWithMeta(key)
            let started = ContinuousClock.now
            let result = try await consul.client.kv.get(key, waitIndex: first.index, wait: .seconds(1))
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .milliseconds(900))
            #expect(elapsed < .seconds(5))
            #expect(result.index == first.index)
            #expect(result.value?.value == bytes("v"))
        }
    }

    @Test func blockingGetOfAMissingKeyReturnsWhenItIsCreated() async throws {
        try await withConsul { consul in
            let key = consul.key("later")
            let first = try await consul.client.kv.getWithMeta(key)
            #expect(first.value == nil)
            #expect(first.index > 0)
            let client = consul.client
            let waiter = Task { try await client.kv.get(key, waitIndex: first.index, wait: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(300))
            try await client.kv.put(key, value: bytes("now"))
            let result = try await waiter.value
            #expect(result.value?.value == bytes("now"))
        }
    }

    @Test func blockingListReturnsWhenAKeyUnderThePrefixChanges() async throws {
        try await withConsul { consul in
            try await consul.client.kv.put(consul.key("tree/a"), value: bytes("a"))
            let first = try await consul.client.kv.list(consul.key("tree/"), waitIndex: nil, wait: nil)
            #expect(first.value.count == 1)
            let client = consul.client
            let prefix = consul.key("tree/")
            let waiter = Task { try await client.kv.list(prefix, waitIndex: first.index, wait: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(300))
            try await client.kv.put(consul.key("tree/b"), value: bytes("b"))
            let result = try await waiter.value
            #expect(result.value.map(\.key) == [consul.key("tree/a"), consul.key("tree/b")])
            #expect(result.index > first.index)
        }
    }

    @Test func watchYieldsCurrentValueThenChangesThenDeletion() async throws {
        try await withConsul { consul in
            let key = consul.key("watched")
            try await consul.client.kv.put(key, value: bytes("v1"))
            var iterator = consul.client.kv.watch(key, wait: .seconds(5)).makeAsyncIterator()
            let current = try await iterator.next()
            #expect(current??.value == bytes("v1"))

            try await consul.client.kv.put(key, value: bytes("v2"))
            let changed = try await iterator.next()
            #expect(changed??.value == bytes("v2"))

            try await consul.client.kv.delete(key)
            let deleted = try await iterator.next()
            #expect(deleted != nil)  // an element …
            #expect(deleted! == nil)  // … saying the key is gone

            try await consul.client.kv.put(key, value: bytes("v3"))
            let recreated = try await iterator.next()
            #expect(recreated??.value == bytes("v3"))
        }
    }

    @Test func watchDoesNotReportWritesToOtherKeys() async throws {
        try await withConsul { consul in
            let key = consul.key("mine")
            try await consul.client.kv.put(key, value: bytes("v1"))
            let client = consul.client
            let seen = TestBox<[String?]>([])
            let watcher = Task {
                for try await entry in client.kv.watch(key, wait: .seconds(2)) {
                    seen.withLock { $0.append(entry?.string) }
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            for i in 0..<5 { try await client.kv.put(consul.key("other-\(i)"), value: bytes("x")) }
            try await Task.sleep(for: .milliseconds(500))
            try await client.kv.put(key, value: bytes("v2"))
            try await waitUntil { seen.withLock { $0.count >= 2 } }
            try await Task.sleep(for: .milliseconds(300))
            watcher.cancel()
            _ = try await watcher.value
            #expect(seen.withLock { $0 } == ["v1", "v2"])
        }
    }

    @Test func prefixWatchYieldsTheListAfterEachChange() async throws {
        try await withConsul { consul in
            let prefix = consul.key("members/")
            var iterator = consul.client.kv.watch(prefix: prefix, wait: .seconds(5)).makeAsyncIterator()
            #expect(try await iterator.next() == [])
            try await consul.client.kv.put(consul.key("members/a"), value: bytes("a"))
            #expect(try await iterator.next()?.map(\.key) == [consul.key("members/a")])
            try await consul.client.kv.put(consul.key("members/b"), value: bytes("b"))
            #expect(try await iterator.next()?.map(\.key) == [consul.key("members/a"), consul.key("members/b")])
            try await consul.client.kv.delete(consul.key("members/a"))
            #expect(try await iterator.next()?.map(\.key) == [consul.key("members/b")])
        }
    }

    @Test func cancellingTheWatchingTaskEndsTheWatchPromptly() async throws {
        try await withConsul { consul in
            let key = consul.key("cancel")
            let client = consul.client
            let started = TestBox(false)
            let watcher = Task {
                var count = 0
                for try await _ in client.kv.watch(key, wait: .seconds(60)) {
                    count += 1
                    started.withLock { $0 = true }
                }
                return count
            }
            try await waitUntil { started.withLock { $0 } }
            let cancelledAt = ContinuousClock.now
            watcher.cancel()
            let count = try await watcher.value
            #expect(count == 1)
            #expect(ContinuousClock.now - cancelledAt < .seconds(3))
        }
    }

    @Test(.enabled(if: TestStores.consulAddress == nil, "needs the stand-in (CONSUL_HTTP_ADDR is set)"))
    func watchSurvivesAnIndexReset() async throws {
        try await withConsul { consul in
            let standIn = try #require(consul.standIn)  // a real Consul's index cannot be reset
            let key = consul.key("reset")
            for i in 0..<20 { try await consul.client.kv.put(consul.key("pad-\(i)"), value: []) }
            try await consul.client.kv.put(key, value: bytes("before"))
            var iterator = consul.client.kv.watch(key, wait: .seconds(1)).makeAsyncIterator()
            #expect(try await iterator.next()??.value == bytes("before"))
            // As after a snapshot restore: every index goes back below the watcher's.
            standIn.simulateIndexReset(to: 3)
            try await consul.client.kv.put(key, value: bytes("after"))
            let next = try await iterator.next()
            #expect(next??.value == bytes("after"))
            #expect((next??.modifyIndex ?? 0) <= 4)
        }
    }

    @Test(.enabled(if: TestStores.consulAddress == nil, "needs the stand-in (CONSUL_HTTP_ADDR is set)"))
    func consistencyModesAreSentAsConsulQueryParameters() async throws {
        try await withConsul { consul in
            let standIn = try #require(consul.standIn)  // needs the stand-in's request log
            let key = consul.key("modes")
            try await consul.client.kv.put(key, value: bytes("m"))
            _ = try await consul.client.kv.get(key, consistency: .consistent)
            _ = try await consul.client.kv.get(key, consistency: .stale)
            _ = try await consul.client.kv.get(key)
            let gets = standIn.recordedRequests.filter { $0.method == "GET" }.map(\.uri)
            #expect(gets.count == 3)
            #expect(gets[0].hasSuffix("?consistent"))
            #expect(gets[1].hasSuffix("?stale"))
            #expect(!gets[2].contains("?"))
        }
        // The configuration's default applies to reads that name none.
        try await withConsul(configure: { $0.defaultConsistency = .consistent }) { consul in
            let standIn = try #require(consul.standIn)
            _ = try await consul.client.kv.get(consul.key("x"))
            #expect(standIn.recordedRequests.last?.uri.hasSuffix("?consistent") == true)
        }
    }
}

@Suite("Consul blocking-query rules (unit, no server)")
struct ConsulBlockingRuleTests {
    /// Answers scripted per call; records the index each call blocked on.
    final class Script: Sendable {
        let answers: TestBox<[Result<ConsulQueryResult<String?>, ConsulError>]>
        let indexes = TestBox<[UInt64?]>([])

        init(_ answers: [Result<ConsulQueryResult<String?>, ConsulError>]) { self.answers = TestBox(answers) }

        func loop() -> BlockingLoop<String?> {
            BlockingLoop(wait: .seconds(1)) { index, _ in
                self.indexes.withLock { $0.append(index) }
                let next = self.answers.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                guard let next else { throw CancellationError() }
                return try next.get()
            }
        }
    }

    static func answer(_ index: UInt64, _ value: String?) -> Result<ConsulQueryResult<String?>, ConsulError> {
        .success(ConsulQueryResult(value: value, meta: ConsulQueryMeta(index: index)))
    }

    @Test func anIndexThatGoesBackwardsResetsTheLoop() async throws {
        let script = Script([Self.answer(10, "a"), Self.answer(12, "b"), Self.answer(5, "b"), Self.answer(7, "c")])
        var loop = script.loop()
        #expect(try await loop.next() == "a")
        #expect(try await loop.next() == "b")
        #expect(try await loop.next() == "c")
        // After 12 came 5: reset to 0, then clamped to 1 (never blocking on the stale 12, nor on 5).
        #expect(script.indexes.withLock { $0 } == [nil, 10, 12, 1])
    }

    @Test func anIndexOfZeroIsNeverBlockedOnAndQuietAnswersAreRateLimited() async throws {
        let script = Script([Self.answer(0, "a"), Self.answer(0, "a"), Self.answer(0, "a"), Self.answer(3, "b")])
        var loop = script.loop()
        #expect(try await loop.next() == "a")
        let started = ContinuousClock.now
        #expect(try await loop.next() == "b")
        #expect(script.indexes.withLock { $0 } == [nil, 1, 1, 1])
        // Two answers without a change: at least two rate-limit pauses.
        #expect(ContinuousClock.now - started >= BlockingLoop<String?>.minimumQuietInterval * 2)
    }

    @Test func transientErrorsAreRetriedAndOthersAreThrown() async throws {
        let script = Script([
            .failure(ConsulError(.unreachable, message: "down")), .failure(ConsulError(.noLeader, message: "election")),
            Self.answer(5, "a"), .failure(ConsulError(.permissionDenied, message: "no")),
        ])
        var loop = script.loop()
        #expect(try await loop.next() == "a")
        await #expect(throws: ConsulError.self) { _ = try await loop.next() }
        #expect(script.indexes.withLock { $0 } == [nil, nil, nil, 5])
    }

    @Test func aNilValueIsAnElementNotTheEnd() async throws {
        let script = Script([Self.answer(4, nil), Self.answer(6, "x"), Self.answer(8, nil)])
        var loop = script.loop()
        let first: String?? = try await loop.next()
        #expect(first == .some(nil))
        #expect(try await loop.next() == "x")
        let third: String?? = try await loop.next()
        #expect(third == .some(nil))
    }
}

/// Polls `condition` every 20 ms for up to `timeout`.
func waitUntil(
    timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: @Sendable () -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(timeout)", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

@Suite("Consul blocking keys listing")
struct ConsulBlockingKeysTests {
    @Test func blockingKeysReturnsWhenAKeyIsAdded() async throws {
        try await withConsul { consul in
            let prefix = consul.key("k/")
            try await consul.client.kv.put(consul.key("k/a"), value: [])
            let first = try await consul.client.kv.keys(prefix, waitIndex: nil, wait: nil)
            #expect(first.value == [consul.key("k/a")])
            let client = consul.client
            let waiter = Task { try await client.kv.keys(prefix, waitIndex: first.index, wait: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(300))
            try await client.kv.put(consul.key("k/b"), value: [])
            let result = try await waiter.value
            #expect(result.value == [consul.key("k/a"), consul.key("k/b")])
            #expect(result.index > first.index)
        }
    }
}

@Suite("Consul deadlines and shutdown of blocking queries")
struct ConsulBlockingDeadlineTests {
    @Test func aBlockingQueryToASilentServerEndsAtItsDeadline() async throws {
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        var configuration = ConsulClient.Configuration(address: "http://127.0.0.1:\(silent.localAddress!.port!)")
        configuration.timeouts.request = .milliseconds(500)
        let client = ConsulClient(configuration)
        let started = ContinuousClock.now
        // Deadline: wait (1 s) + Consul's jitter allowance (wait/16) + the request timeout (0.5 s).
        await expectConsulError(.timeout) { try await client.kv.get("k", waitIndex: 5, wait: .seconds(1)) }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(1_400))
        #expect(elapsed < .seconds(4))
        try await client.shutdown()
        try await silent.close()
    }

    @Test func shuttingDownTheClientEndsItsWatches() async throws {
        let standIn = try await ConsulStandIn.start()
        let client = ConsulClient(.init(address: standIn.address))
        let first = TestBox(false)
        let watcher = Task {
            for try await _ in client.kv.watch("w", wait: .seconds(60)) { first.withLock { $0 = true } }
        }
        try await waitUntil { first.withLock { $0 } }
        try await Task.sleep(for: .milliseconds(100))  // the blocking query is now in flight
        let started = ContinuousClock.now
        try await client.shutdown()
        do {
            try await watcher.value
        } catch let error as ConsulError {
            #expect(error.code == .shutdown)
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        try await standIn.shutdown()
    }
}
