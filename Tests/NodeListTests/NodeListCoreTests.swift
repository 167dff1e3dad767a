import AutoCluster
import Foundation
@testable import NodeList
import StoreTestSupport
import Testing

/// The store-independent algorithm (probe rounds, sweep rules, retry loop) over an in-process
/// backend, with real TCP/HTTP probes against loopback listeners. Store behaviour is tested
/// against the real stores in the per-store suites.
@Suite struct NodeListCoreTests {
    static let key = "/autocluster/core"
    static let old = Date().addingTimeInterval(-3600)

    func configuration(grace: Duration = .seconds(10)) -> NodeListStore.Configuration {
        var configuration = NodeListStore.Configuration()
        configuration.probeTimeout = .seconds(3)
        configuration.sweepGracePeriod = grace
        return configuration
    }

    func seed(_ backend: InProcessBackend, _ nodes: [ClusterNode], votes: [ClusterNode: [ClusterNode]] = [:]) {
        var suspicions: [NodeIdentity: [NodeIdentity: Vote]] = [:]
        for (target, observers) in votes {
            suspicions[NodeIdentity(target)] = Dictionary(uniqueKeysWithValues: observers.map { (NodeIdentity($0), Vote(pastGrace: true)) })
        }
        backend.write(key: Self.key, value: NodeListDocument(nodes: nodes, suspicions: suspicions).encoded())
    }

    @Test func createsTheListWithTheJoiner() async throws {
        let backend = InProcessBackend()
        let store = NodeListStore(backend: backend, key: Self.key, probe: TCPProbe(timeout: .seconds(3)), configuration: configuration())
        let me = ClusterNode(name: "me", address: "127.0.0.1:1")
        let outcome = try await store.join(me)
        #expect(outcome.created)
        #expect(outcome.seed == nil)
        #expect(outcome.nodes == [me])
        #expect(try await store.nodes() == [me])
    }

    @Test func sweepsDeadNodesWithRealTCPProbesAndConnectsToTheOldestLiveOne() async throws {
        let alive1 = try await LoopbackListener.start()
        let alive2 = try await LoopbackListener.start()
        defer { Task { await alive1.close(); await alive2.close() } }
        let dead = try await LoopbackListener.deadAddress()
        let a = ClusterNode(name: "a", address: dead, joinedAt: Self.old)
        let b = ClusterNode(name: "b", address: alive1.address, joinedAt: Self.old)
        let c = ClusterNode(name: "c", address: alive2.address, joinedAt: Self.old)
        let backend = InProcessBackend()
        // b and c have already voted a dead; with the joiner's own vote that is 3 of the 4 listed.
        seed(backend, [a, b, c], votes: [a: [b, c]])
        let store = NodeListStore(backend: backend, key: Self.key, probe: TCPProbe(timeout: .seconds(3)), configuration: configuration(grace: .zero))
        let me = ClusterNode(name: "me", address: "127.0.0.1:9")
        let connected = TestMutex<[String]>([])
        let outcome = try await store.join(me) { seed in connected.withLock { $0.append(seed.name) } }
        #expect(outcome.seed?.name == "b")
        #expect(connected.withLock { $0 } == ["b"])
        #expect(outcome.swept.map(\.name) == ["a"])
        #expect(outcome.nodes.map(\.name) == ["b", "c", "me"])
        #expect(outcome.attempts == 1)
        #expect(try await store.nodes().map(\.name) == ["b", "c", "me"])
    }

    @Test func fallsThroughToTheNextResponsiveNodeWhenConnectFails() async throws {
        let backend = InProcessBackend()
        let a = ClusterNode(name: "a", address: "127.0.0.1:1", joinedAt: Self.old)
        let b = ClusterNode(name: "b", address: "127.0.0.1:2", joinedAt: Self.old)
        seed(backend, [a, b])
        let store = NodeListStore(backend: backend, key: Self.key, probe: NoProbe(), configuration: configuration())
        struct Refused: Error {}
        let outcome = try await store.join(ClusterNode(name: "me", address: "127.0.0.1:3")) { seed in
            if seed.name == "a" { throw Refused() }
        }
        #expect(outcome.seed?.name == "b")
        #expect(outcome.swept.isEmpty)

        let failing = NodeListStore(backend: backend, key: Self.key, probe: NoProbe(), configuration: configuration())
        let error = await #expect(throws: NodeListError.self) {
            try await failing.join(ClusterNode(name: "other", address: "127.0.0.1:4")) { _ in throw Refused() }
        }
        #expect(error?.code == .connectFailed)
        #expect(try await store.nodes().map(\.name) == ["a", "b", "me"])
    }

    @Test func aLoneObserversVoteSweepsNothingWhileTheOthersHaveNotVoted() async throws {
        let live = try await LoopbackListener.start()
        defer { Task { await live.close() } }
        let dead = try await LoopbackListener.deadAddress()
        let a = ClusterNode(name: "a", address: dead, joinedAt: Self.old)
        let b = ClusterNode(name: "b", address: live.address, joinedAt: Self.old)
        let backend = InProcessBackend()
        seed(backend, [a, b])
        let store = NodeListStore(backend: backend, key: Self.key, probe: TCPProbe(timeout: .seconds(3)), configuration: configuration(grace: .zero))
        let outcome = try await store.join(ClusterNode(name: "me", address: "127.0.0.1:9"))
        // me and b respond (2 of 3, a majority), but only me has voted: a stays, with me's vote.
        #expect(outcome.isolated == false)
        #expect(outcome.swept.isEmpty)
        #expect(outcome.nodes.map(\.name) == ["a", "b", "me"])
        let stored = try NodeListDocument.decode(try #require(try await backend.read(key: Self.key)).bytes, version: 0)
        #expect(stored.suspicions == [NodeIdentity(a): [NodeIdentity(name: "me", incarnation: outcome.nodes[2].incarnation): Vote(pastGrace: true)]])
    }

    @Test func anIsolatedJoinerSweepsNothingAndAddsItselfOnlyUnderTheAddPolicy() async throws {
        let dead1 = try await LoopbackListener.deadAddress()
        let dead2 = try await LoopbackListener.deadAddress()
        let a = ClusterNode(name: "a", address: dead1, joinedAt: Self.old)
        let b = ClusterNode(name: "b", address: dead2, joinedAt: Self.old)
        let backend = InProcessBackend()
        // Even with each dead node voting the other dead, an isolated joiner sweeps nothing.
        seed(backend, [a, b], votes: [a: [b], b: [a]])
        let store = NodeListStore(backend: backend, key: Self.key, probe: TCPProbe(timeout: .seconds(3)), configuration: configuration(grace: .zero))
        let waiting = try await store.join(ClusterNode(name: "w", address: "127.0.0.1:8"), ifIsolated: .wait)
        #expect(waiting.isolated)
        #expect(waiting.added == false)
        #expect(try await store.nodes().map(\.name) == ["a", "b"])

        let outcome = try await store.join(ClusterNode(name: "me", address: "127.0.0.1:9"))
        #expect(outcome.isolated)
        #expect(outcome.added)
        #expect(outcome.swept.isEmpty)
        #expect(outcome.seed == nil)
        #expect(outcome.responsive == 1)
        #expect(outcome.listed == 3)
        #expect(outcome.nodes.map(\.name) == ["a", "b", "me"])
    }

    @Test func neverProbesOrSweepsItselfAndReplacesItsOlderIncarnation() async throws {
        let backend = InProcessBackend()
        let live = try await LoopbackListener.start()
        defer { Task { await live.close() } }
        let dead = try await LoopbackListener.deadAddress()
        let previous = ClusterNode(name: "me", address: dead, incarnation: "old-run", joinedAt: Self.old)
        let other = ClusterNode(name: "other", address: live.address, joinedAt: Self.old)
        seed(backend, [previous, other])
        let probed = TestMutex<[String]>([])
        let tcp = TCPProbe(timeout: .seconds(3))
        let probe = ClosureProbe { node, timeout in
            probed.withLock { $0.append(node.name) }
            return await tcp.probe(node, timeout: timeout)
        }
        let store = NodeListStore(backend: backend, key: Self.key, probe: probe, configuration: configuration())
        let me = ClusterNode(name: "me", address: dead, incarnation: "new-run")
        let outcome = try await store.join(me)
        #expect(probed.withLock { $0 } == ["other"])
        #expect(outcome.swept.isEmpty)
        #expect(outcome.nodes.map(\.incarnation) == [other.incarnation, "new-run"])

        // Within one probe round the verdict on "other" is reused, not taken again.
        let swept = try await store.sweep(excluding: "me")
        #expect(swept.isEmpty)
        #expect(probed.withLock { $0 } == ["other"])
    }

    @Test func aNodeIsDeadOnlyAfterAllProbeAttemptsFail() async throws {
        let backend = InProcessBackend()
        let flaky = ClusterNode(name: "flaky", address: "127.0.0.1:1", joinedAt: Self.old)
        let gone = ClusterNode(name: "gone", address: "127.0.0.1:2", joinedAt: Self.old)
        seed(backend, [flaky, gone])
        let attempts = TestMutex<[String: Int]>([:])
        let probe = ClosureProbe { node, _ in
            let n = attempts.withLock { $0[node.name, default: 0] += 1; return $0[node.name]! }
            return node.name == "flaky" && n == 3
        }
        var config = configuration()
        config.probeAttempts = 3
        let store = NodeListStore(backend: backend, key: Self.key, probe: probe, configuration: config)
        let outcome = try await store.join(ClusterNode(name: "me", address: "127.0.0.1:9"))
        // flaky answered its third attempt: me and flaky respond, gone does not.
        #expect(outcome.responsive == 2)
        #expect(outcome.seed?.name == "flaky")
        #expect(attempts.withLock { $0 } == ["flaky": 3, "gone": 3])
    }

    @Test func aNodeThatNeverAnswersCostsOneProbeTimeoutNotOnePerAttempt() async throws {
        let backend = InProcessBackend()
        seed(backend, (0..<6).map { ClusterNode(name: "silent\($0)", address: "127.0.0.1:\($0 + 1)", joinedAt: Self.old) })
        let attempts = TestMutex<[String: Int]>([:])
        let probe = ClosureProbe { node, _ in
            attempts.withLock { $0[node.name, default: 0] += 1 }
            try await Task.sleep(for: .seconds(60))  // black-holed: never answers
            return true
        }
        var config = configuration()
        config.probeAttempts = 3
        config.probeTimeout = .seconds(1)
        let store = NodeListStore(backend: backend, key: Self.key, probe: probe, configuration: config)
        let start = ContinuousClock.now
        let outcome = try await store.join(ClusterNode(name: "me", address: "127.0.0.1:9"))
        let elapsed = ContinuousClock.now - start
        // Nobody answered, so the joiner is isolated and sweeps nothing — and the join took one
        // probe round, not probeAttempts of them (3 s).
        #expect(outcome.isolated)
        #expect(outcome.swept.isEmpty)
        #expect(elapsed >= .seconds(1))
        #expect(elapsed < .milliseconds(2500))
        #expect(attempts.withLock { $0.values.allSatisfy { $0 == 1 } })
    }

    @Test func probesInParallelWithinTheConcurrencyBound() async throws {
        let backend = InProcessBackend()
        seed(backend, (0..<12).map { ClusterNode(name: "n\($0)", address: "127.0.0.1:\($0 + 1)", joinedAt: Self.old) })
        let inFlight = TestMutex((now: 0, peak: 0))
        let probe = ClosureProbe { _, _ in
            inFlight.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) }
            try await Task.sleep(for: .milliseconds(100))
            inFlight.withLock { $0.now -= 1 }
            return true
        }
        var config = configuration()
        config.probeConcurrency = 4
        let store = NodeListStore(backend: backend, key: Self.key, probe: probe, configuration: config)
        try await store.join(ClusterNode(name: "me", address: "127.0.0.1:99"))
        // 12 probes of 100 ms each, never more than 4 at once, and really 4 at once.
        #expect(inFlight.withLock { $0.peak } == 4)
    }

    @Test func retriesACompareAndSwapConflictWithTheFreshValue() async throws {
        let competitor = ClusterNode(name: "competitor", address: "127.0.0.1:5", joinedAt: Self.old)
        let backend = InProcessBackend { backend, attempt in
            // A competing writer commits between our read and our first swap.
            guard attempt == 1 else { return }
            backend.write(key: NodeListCoreTests.key, value: NodeListDocument(nodes: [
                ClusterNode(name: "a", address: "127.0.0.1:4", incarnation: "ia", joinedAt: NodeListCoreTests.old), competitor,
            ]).encoded())
        }
        seed(backend, [ClusterNode(name: "a", address: "127.0.0.1:4", incarnation: "ia", joinedAt: Self.old)])
        let store = NodeListStore(backend: backend, key: Self.key, probe: NoProbe(), configuration: configuration())
        let outcome = try await store.join(ClusterNode(name: "me", address: "127.0.0.1:9"))
        #expect(outcome.attempts == 2)
        #expect(outcome.nodes.map(\.name) == ["a", "competitor", "me"])
        #expect(try await store.nodes().map(\.name) == ["a", "competitor", "me"])
    }

    @Test func throwsContentionAfterMaxCASAttempts() async throws {
        let backend = InProcessBackend { backend, attempt in
            backend.write(key: NodeListCoreTests.key, value: NodeListDocument(nodes: [
                ClusterNode(name: "w\(attempt)", address: "127.0.0.1:4", joinedAt: NodeListCoreTests.old),
            ]).encoded())
        }
        seed(backend, [])
        var config = configuration()
        config.maxCASAttempts = 5
        config.backoff = .init(initial: .milliseconds(1), maximum: .milliseconds(4))
        let store = NodeListStore(backend: backend, key: Self.key, probe: NoProbe(), configuration: config)
        let error = await #expect(throws: NodeListError.self) {
            try await store.join(ClusterNode(name: "me", address: "127.0.0.1:9"))
        }
        #expect(error?.code == .contention)
        #expect(backend.state.withLock { $0.conflicts } == 5)
    }

    @Test func backoffGrowsToItsMaximumWithJitter() {
        let backoff = NodeListStore.Backoff(initial: .milliseconds(10), maximum: .milliseconds(80), multiplier: 2, jitter: 0.5)
        for _ in 0..<50 {
            let first = backoff.delay(attempt: 1)
            #expect(first >= .milliseconds(5) && first <= .milliseconds(10))
            let fourth = backoff.delay(attempt: 4)
            #expect(fourth >= .milliseconds(40) && fourth <= .milliseconds(80))
            let tenth = backoff.delay(attempt: 10)
            #expect(tenth >= .milliseconds(40) && tenth <= .milliseconds(80))
        }
        let noJitter = NodeListStore.Backoff(initial: .milliseconds(10), maximum: .seconds(1), multiplier: 3, jitter: 0)
        #expect(noJitter.delay(attempt: 3) == .milliseconds(90))
    }

    @Test func theConflictBoundScalesWithLatencyAndItsGrowthIsCapped() {
        // Defaults: 8 × the conflicting round trip, doubling per conflict, at most × 8, at most 2 s.
        let backoff = NodeListStore.Backoff()
        #expect(backoff.bound(conflict: 1, latency: .milliseconds(10)) == .milliseconds(80))
        #expect(backoff.bound(conflict: 2, latency: .milliseconds(10)) == .milliseconds(160))
        #expect(backoff.bound(conflict: 4, latency: .milliseconds(10)) == .milliseconds(640))
        #expect(backoff.bound(conflict: 5, latency: .milliseconds(10)) == .milliseconds(640))
        #expect(backoff.bound(conflict: 30, latency: .milliseconds(10)) == .milliseconds(640))
        #expect(backoff.bound(conflict: 5, latency: .milliseconds(100)) == .seconds(2))
        // A round trip below initial / latencyMultiple: the bound starts at initial (1 ms).
        #expect(backoff.bound(conflict: 1, latency: .microseconds(10)) == .milliseconds(1))
        let uncapped = NodeListStore.Backoff(maximumGrowth: .infinity)
        #expect(uncapped.bound(conflict: 6, latency: .milliseconds(1)) == .milliseconds(256))
    }

    @Test func enforcesMaxNodes() async throws {
        let backend = InProcessBackend()
        seed(backend, (0..<3).map { ClusterNode(name: "n\($0)", address: "127.0.0.1:\($0 + 1)", joinedAt: Self.old) })
        var config = configuration()
        config.maxNodes = 3
        let store = NodeListStore(backend: backend, key: Self.key, probe: NoProbe(), configuration: config)
        let error = await #expect(throws: NodeListError.self) {
            try await store.join(ClusterNode(name: "n4", address: "127.0.0.1:9"))
        }
        #expect(error?.code == .tooManyNodes)
        #expect(error?.message.contains("maxNodes (3)") == true)
        #expect(try await store.nodes().count == 3)
    }

    @Test func corruptValueIsLeftUntouchedUnlessReplaceCorrupt() async throws {
        let backend = InProcessBackend()
        let garbage = Array("{\"format\":1,\"nodes\":[{\"name\":".utf8)
        let version = backend.write(key: Self.key, value: garbage)
        let store = NodeListStore(backend: backend, key: Self.key, probe: NoProbe(), configuration: configuration())
        let error = await #expect(throws: NodeListError.self) {
            try await store.join(ClusterNode(name: "me", address: "127.0.0.1:9"))
        }
        #expect(error?.code == .corruptValue)
        #expect(error?.version == version)
        #expect(try await backend.read(key: Self.key) == VersionedValue(bytes: garbage, version: version))

        var replacing = configuration()
        replacing.corruptValuePolicy = .replaceCorrupt
        let fixer = NodeListStore(backend: backend, key: Self.key, probe: NoProbe(), configuration: replacing)
        let outcome = try await fixer.join(ClusterNode(name: "me", address: "127.0.0.1:9"))
        #expect(outcome.nodes.map(\.name) == ["me"])
        #expect(try await store.nodes().map(\.name) == ["me"])
    }

    @Test func leaveRemovesExactlyTheLeaver() async throws {
        let backend = InProcessBackend()
        let store = NodeListStore(backend: backend, key: Self.key, probe: NoProbe(), configuration: configuration())
        let a = ClusterNode(name: "a", address: "127.0.0.1:1")
        let b = ClusterNode(name: "b", address: "127.0.0.1:2")
        try await store.join(a)
        try await store.join(b)
        #expect(try await store.leave(ClusterNode(name: "a", address: "127.0.0.1:1", incarnation: "another-run")) == false)
        #expect(try await store.leave(a))
        #expect(try await store.nodes() == [b])
        #expect(try await store.leave(name: "b"))
        #expect(try await store.nodes().isEmpty)
    }
}
