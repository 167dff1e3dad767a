import AutoCluster
import Foundation
@testable import NodeList
import ServiceLifecycle
import Logging
import StoreTestSupport
import Testing

/// A clock the test drives: `sleep` advances it at once; `wallNow` can be skewed.
final class ManualClock: NodeListClock {
    private let state: TestMutex<Duration>
    let skew: TimeInterval

    init(start: Duration = .seconds(1000), skew: TimeInterval = 0) {
        state = TestMutex(start)
        self.skew = skew
    }

    var now: Duration { state.withLock { $0 } }
    var wallNow: Date { Date(timeIntervalSince1970: 1_800_000_000 + skew + Double(now.components.seconds)) }
    func advance(_ duration: Duration) { state.withLock { $0 += duration } }
    func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        advance(duration)
    }
}

/// The sweep-safety guarantees, one test each, on the pure rules and on `NodeListStore` over the
/// in-process backend (no network but loopback listeners, no store server needed).
@Suite struct SweepSafetyTests {
    static let rules = MembershipRules(sweepGracePeriod: .seconds(10), survivorDelay: .seconds(8), verdictLifetime: .milliseconds(500))

    static func node(_ name: String) -> ClusterNode {
        ClusterNode(name: name, address: "127.0.0.1:\(7000 + Int(name.dropFirst())!)", incarnation: "\(name)-1", joinedAt: Date(timeIntervalSince1970: 0))
    }

    /// A memory that has known `nodes` since t=0 and holds verdicts taken at `now`.
    static func memory(knowing nodes: [ClusterNode], alive: Set<String>, now: Duration) -> ObserverMemory {
        var memory = ObserverMemory()
        memory.saw(nodes.map(NodeIdentity.init), now: .zero)
        for node in nodes { memory.record(NodeIdentity(node), alive: alive.contains(node.name), now: now, grace: rules.sweepGracePeriod) }
        return memory
    }

    static func document(_ nodes: [ClusterNode], votes: [String: [String]] = [:], pastGrace: Bool = true) -> NodeListDocument {
        var suspicions: [NodeIdentity: [NodeIdentity: Vote]] = [:]
        for (target, observers) in votes {
            let t = nodes.first { $0.name == target }!
            suspicions[NodeIdentity(t)] = Dictionary(uniqueKeysWithValues: observers.map { name in
                (NodeIdentity(nodes.first { $0.name == name }!), Vote(pastGrace: pastGrace))
            })
        }
        return NodeListDocument(nodes: nodes, suspicions: suspicions)
    }

    // MARK: 1. No sweep by a minority

    @Test func aLoneObserverRemovesNothingItAloneFindsDead() {
        let nodes = (1...5).map { Self.node("n\($0)") }
        let now = Duration.seconds(60)
        // n1 cannot reach n5; the others (which do) have not voted: one vote of five.
        var memory = Self.memory(knowing: nodes, alive: ["n2", "n3", "n4"], now: now)
        let decision = Self.rules.decide(Self.document(nodes), role: .member(NodeIdentity(nodes[0])), memory: &memory, now: now)
        #expect(decision.isolated == false)
        #expect(decision.swept.isEmpty)
        #expect(decision.next.suspicions[NodeIdentity(nodes[4])]?.keys.map(\.name) == ["n1"])
    }

    @Test func votesOfAMajorityOfTheListRemoveAnEntry() {
        let nodes = (1...5).map { Self.node("n\($0)") }
        let now = Duration.seconds(60)
        var memory = Self.memory(knowing: nodes, alive: ["n2", "n3", "n4"], now: now)
        // n2 has voted: with n1's vote, 2 of 5 — still no majority of the list.
        var decision = Self.rules.decide(Self.document(nodes, votes: ["n5": ["n2"]]), role: .member(NodeIdentity(nodes[0])), memory: &memory, now: now)
        #expect(decision.swept.isEmpty)
        // n2 and n3 have voted: with n1's, 3 of 5.
        decision = Self.rules.decide(Self.document(nodes, votes: ["n5": ["n2", "n3"]]), role: .member(NodeIdentity(nodes[0])), memory: &memory, now: now)
        #expect(decision.swept.map(\.name) == ["n5"])
    }

    @Test func anIsolatedMemberSweepsNothingUnderTheMajorityRule() {
        let nodes = (1...5).map { Self.node("n\($0)") }
        let now = Duration.seconds(60)
        // n1 reaches only n2 (2 of 5): isolated. Even with n2's votes nothing goes, and the others
        // have voted against n1 (a sign of their life), so the survivor rule does not apply either.
        var memory = Self.memory(knowing: nodes, alive: ["n2"], now: now)
        let votes = ["n3": ["n2"], "n4": ["n2"], "n5": ["n2"], "n1": ["n3", "n4", "n5"]]
        let decision = Self.rules.decide(Self.document(nodes, votes: votes), role: .member(NodeIdentity(nodes[0])), memory: &memory, now: now)
        #expect(decision.isolated)
        #expect(decision.swept.isEmpty)
        #expect(memory.challenges.isEmpty)
    }

    @Test func aLoneSurvivorChallengesThenRemovesTheDeadAfterTheSurvivorDelay() {
        let nodes = (1...3).map { Self.node("n\($0)") }
        let me = NodeIdentity(nodes[0])
        var now = Duration.seconds(60)
        var memory = Self.memory(knowing: nodes, alive: [], now: now)
        // 1st refresh: n2, n3 dead and silent → challenged, nothing removed yet.
        var decision = Self.rules.decide(Self.document(nodes), role: .member(me), memory: &memory, now: now)
        #expect(decision.isolated)
        #expect(decision.swept.isEmpty)
        #expect(decision.next.suspicions[NodeIdentity(nodes[1])]?[me] == Vote(pastGrace: true, challenge: true))
        memory.wrote(decision.next, as: me)
        // survivorDelay − 1 ms later: still waiting.
        now += .seconds(8) - .milliseconds(1)
        for node in nodes.dropFirst() { memory.record(NodeIdentity(node), alive: false, now: now, grace: Self.rules.sweepGracePeriod) }
        decision = Self.rules.decide(decision.next, role: .member(me), memory: &memory, now: now)
        #expect(decision.swept.isEmpty)
        // At survivorDelay the unanswered challenges remove both.
        now += .milliseconds(1)
        for node in nodes.dropFirst() { memory.record(NodeIdentity(node), alive: false, now: now, grace: Self.rules.sweepGracePeriod) }
        decision = Self.rules.decide(decision.next, role: .member(me), memory: &memory, now: now)
        #expect(decision.swept.map(\.name) == ["n2", "n3"])
        #expect(decision.next.nodes.map(\.name) == ["n1"])
    }

    @Test func aChallengedLiveNodeClearsTheChallengeAndIsNotRemoved() {
        let nodes = (1...2).map { Self.node("n\($0)") }
        let (n1, n2) = (NodeIdentity(nodes[0]), NodeIdentity(nodes[1]))
        var now = Duration.seconds(60)
        var memory1 = Self.memory(knowing: nodes, alive: [], now: now)
        let challenged = Self.rules.decide(Self.document(nodes), role: .member(n1), memory: &memory1, now: now).next
        memory1.wrote(challenged, as: n1)
        // n2 reads the store (whatever the link to n1 does) and, reaching n1 again, answers.
        var memory2 = Self.memory(knowing: nodes, alive: ["n1"], now: now)
        let answered = Self.rules.decide(challenged, role: .member(n2), memory: &memory2, now: now).next
        #expect(answered.suspicions[n2]?[n1]?.challenge == false)
        // n1, past the survivor delay, sees its challenge answered: nothing is removed.
        now += .seconds(9)
        memory1.record(n2, alive: false, now: now, grace: Self.rules.sweepGracePeriod)
        let decision = Self.rules.decide(answered, role: .member(n1), memory: &memory1, now: now)
        #expect(decision.swept.isEmpty)
        #expect(memory1.challenges.isEmpty)
        #expect(memory1.deadStreakStart(n2) == now)
    }

    // MARK: 4. No cross-host clock decides; re-added entries get a fresh grace period

    @Test func graceIsMeasuredOnTheObserversClockFromWhenItFirstSawTheEntry() {
        let nodes = [Self.node("n1"), Self.node("n2"), Self.node("n3")]
        var old = nodes[2]
        old.joinedAt = Date(timeIntervalSince1970: 0)  // "joined" in 1970 by its writer's clock: irrelevant
        var memory = ObserverMemory()
        memory.saw(nodes.map(NodeIdentity.init), now: .seconds(100))
        memory.record(NodeIdentity(nodes[1]), alive: true, now: .seconds(109), grace: .seconds(10))
        memory.record(NodeIdentity(nodes[2]), alive: false, now: .seconds(109), grace: .seconds(10))
        var decision = Self.rules.decide(NodeListDocument(nodes: nodes), role: .member(NodeIdentity(nodes[0])), memory: &memory, now: .seconds(109))
        #expect(decision.next.suspicions[NodeIdentity(nodes[2])]?[NodeIdentity(nodes[0])] == Vote(pastGrace: false))
        memory.record(NodeIdentity(nodes[1]), alive: true, now: .seconds(110), grace: .seconds(10))
        memory.record(NodeIdentity(nodes[2]), alive: false, now: .seconds(110), grace: .seconds(10))
        decision = Self.rules.decide(NodeListDocument(nodes: nodes), role: .member(NodeIdentity(nodes[0])), memory: &memory, now: .seconds(110))
        #expect(decision.next.suspicions[NodeIdentity(nodes[2])]?[NodeIdentity(nodes[0])] == Vote(pastGrace: true))

        // The same name re-added as a new incarnation is a new entry: a fresh grace period.
        var readded = nodes[2]
        readded.incarnation = "n3-2"
        memory.saw([NodeIdentity(nodes[0]), NodeIdentity(nodes[1]), NodeIdentity(readded)], now: .seconds(200))
        #expect(memory.age(of: NodeIdentity(readded), now: .seconds(205)) == .seconds(5))
        #expect(memory.age(of: NodeIdentity(nodes[1]), now: .seconds(205)) == .seconds(105))
    }

    @Test func anHourOfWallClockSkewChangesNoDecision() async throws {
        let dead = try await LoopbackListener.deadAddress()
        let live = try await LoopbackListener.start()
        defer { Task { await live.close() } }
        var outcomes: [[String]] = []
        for skew in [-3600.0, 0, 3600] {
            let backend = InProcessBackend()
            let clock = ManualClock(skew: skew)
            var configuration = NodeListStore.Configuration()
            configuration.clock = clock
            configuration.probeTimeout = .seconds(3)
            // Entries "joined" an hour in the future and an hour in the past, by their writers' clocks.
            let future = ClusterNode(name: "future", address: dead, joinedAt: Date().addingTimeInterval(3600))
            let past = ClusterNode(name: "past", address: live.address, joinedAt: Date().addingTimeInterval(-3600))
            backend.write(key: "/k", value: NodeListDocument(nodes: [future, past]).encoded())
            let store = NodeListStore(backend: backend, key: "/k", probe: TCPProbe(timeout: .seconds(3)), configuration: configuration)
            let me = ClusterNode(name: "me", address: "127.0.0.1:9", incarnation: "me", joinedAt: clock.wallNow)
            try await store.join(me)
            clock.advance(.seconds(11))
            let refresh = try await store.refresh(me)
            let stored = try NodeListDocument.decode(try #require(try await backend.read(key: "/k")).bytes, version: 0)
            outcomes.append(refresh.nodes.map(\.name) + stored.suspicions.map { "\($0.key.name)×\($0.value.map { "\($0.key.name)\($0.value.pastGrace)" })" })
        }
        #expect(outcomes[0] == outcomes[1])
        #expect(outcomes[1] == outcomes[2])
        #expect(outcomes[1] == ["future", "past", "me", "future×[\"metrue\"]"])
    }

    // MARK: 5. Fresh verdicts

    @Test func aVerdictOlderThanOneProbeRoundIsTakenAgainBeforeItIsUsed() async throws {
        let clock = ManualClock()
        let probes = TestMutex<[String]>([])
        let probe = ClosureProbe { node, _ in
            probes.withLock { $0.append(node.name) }
            return node.name != "dead"
        }
        let nodes = [Self.node("n1"), Self.node("n2"), ClusterNode(name: "dead", address: "127.0.0.1:1", incarnation: "d")]
        let backend = InProcessBackend { backend, attempt in
            // The first swap conflicts, and the backoff that follows outlasts a probe round.
            guard attempt == 1 else { return }
            backend.write(key: "/k", value: NodeListDocument(nodes: nodes).encoded())
            clock.advance(.seconds(2))
        }
        backend.write(key: "/k", value: NodeListDocument(nodes: nodes).encoded())
        var configuration = NodeListStore.Configuration()
        configuration.clock = clock
        configuration.probeTimeout = .seconds(1)
        configuration.probeAttempts = 1
        let store = NodeListStore(backend: backend, key: "/k", probe: probe, configuration: configuration)
        let outcome = try await store.join(ClusterNode(name: "me", address: "127.0.0.1:9"))
        #expect(outcome.attempts == 2)
        // Each entry was probed in the first round and again after the verdicts went stale.
        #expect(probes.withLock { $0.sorted() } == ["dead", "dead", "n1", "n1", "n2", "n2"])
    }

    // MARK: 8. Duplicate names

    @Test func twoLiveProcessesWithOneNameGetAClearErrorAndNothingIsWritten() async throws {
        let a = try await LoopbackListener.start()
        let b = try await LoopbackListener.start()
        defer { Task { await a.close(); await b.close() } }
        let backend = InProcessBackend()
        let first = ClusterNode(name: "web", address: a.address, incarnation: "first")
        let store = NodeListStore(backend: backend, key: "/k", probe: TCPProbe(timeout: .seconds(3)))
        try await store.join(first)
        let before = try await backend.read(key: "/k")
        let second = ClusterNode(name: "web", address: b.address, incarnation: "second")
        let error = await #expect(throws: NodeListError.self) { try await store.join(second) }
        #expect(error?.code == .duplicateName)
        #expect(error?.message.contains("incarnation first at \(a.address)") == true)
        #expect(error?.message.contains("incarnation second at \(b.address)") == true)
        #expect(try await backend.read(key: "/k") == before)

        // A namesake at the joiner's own address, or one that does not answer, is its earlier run.
        let restarted = ClusterNode(name: "web", address: a.address, incarnation: "third")
        #expect(try await store.join(restarted).nodes == [restarted])
    }

    @Test func aServiceWhoseNameIsTakenByAnotherLiveProcessStopsWithDuplicateName() async throws {
        let a = try await LoopbackListener.start()
        let b = try await LoopbackListener.start()
        defer { Task { await a.close(); await b.close() } }
        let backend = InProcessBackend()
        let mine = ClusterNode(name: "web", address: a.address, incarnation: "mine")
        let service = NodeListService(
            store: NodeListStore(backend: backend, key: "/k", probe: TCPProbe(timeout: .seconds(3))), node: mine,
            refreshInterval: .milliseconds(100))
        let running = Task { try await service.run() }
        try await waitFor { service.isReady }
        // Another process writes itself over this entry under the same name.
        backend.write(key: "/k", value: NodeListDocument(nodes: [ClusterNode(name: "web", address: b.address, incarnation: "theirs")]).encoded())
        let error = await #expect(throws: NodeListError.self) { try await running.value }
        #expect(error?.code == .duplicateName)
        #expect(service.state == .stopped)
    }

    // MARK: 9. Readiness

    @Test func readinessFollowsTheMajorityBothWays() async throws {
        let me = try await LoopbackListener.start()
        var peer = try await LoopbackListener.start()
        let peerAddress = peer.address
        let backend = InProcessBackend()
        let store = NodeListStore(backend: backend, key: "/k", probe: TCPProbe(timeout: .milliseconds(300)))
        try await store.join(ClusterNode(name: "peer", address: peerAddress))
        let service = NodeListService(store: store, node: ClusterNode(name: "me", address: me.address), refreshInterval: .milliseconds(100))
        let running = Task { try await service.run() }
        defer { running.cancel() }
        try await waitFor { service.isReady }
        // The peer stops answering: me reaches 1 of 2, no majority — not ready.
        await peer.close()
        try await waitFor { service.state == .isolated }
        #expect(service.isReady == false)
        // It answers again: ready again.
        peer = try await LoopbackListener.start(port: Int(peerAddress.split(separator: ":").last!)!)
        try await waitFor { service.isReady }
        await peer.close()
        await me.close()
    }

    @Test func aNodeThatReachedNoPeerIsNotReadyWithTheDefaults() async throws {
        let me = try await LoopbackListener.start()
        defer { Task { await me.close() } }
        let backend = InProcessBackend()
        backend.write(key: "/k", value: NodeListDocument(nodes: [
            ClusterNode(name: "a", address: try await LoopbackListener.deadAddress()),
            ClusterNode(name: "b", address: try await LoopbackListener.deadAddress()),
        ]).encoded())
        let service = NodeListService(
            store: NodeListStore(backend: backend, key: "/k", probe: TCPProbe(timeout: .milliseconds(300))),
            node: ClusterNode(name: "me", address: me.address), refreshInterval: .milliseconds(100))
        let running = Task { try await service.run() }
        defer { running.cancel() }
        try await waitFor { service.lastJoin != nil }
        try await Task.sleep(for: .milliseconds(500))
        #expect(service.state == .isolated)
        #expect(service.lastJoin?.isolated == true)
    }

    @Test func waitUntilReadyHonoursCancellationAndTheServiceStopping() async throws {
        let backend = InProcessBackend()
        backend.write(key: "/k", value: NodeListDocument(nodes: [
            ClusterNode(name: "a", address: try await LoopbackListener.deadAddress()),
            ClusterNode(name: "b", address: try await LoopbackListener.deadAddress()),
        ]).encoded())
        let me = try await LoopbackListener.start()
        defer { Task { await me.close() } }
        let service = NodeListService(
            store: NodeListStore(backend: backend, key: "/k", probe: TCPProbe(timeout: .milliseconds(300))),
            node: ClusterNode(name: "me", address: me.address), refreshInterval: .milliseconds(100))
        let group = ServiceGroup(configuration: .init(services: [service], logger: Logger(label: "test")))
        let running = Task { try await group.run() }

        let cancelled = Task { try await service.waitUntilReady() }
        try await Task.sleep(for: .milliseconds(200))
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }

        let waiting = Task { try await service.waitUntilReady() }
        try await Task.sleep(for: .milliseconds(200))
        await group.triggerGracefulShutdown()
        try await running.value
        let error = await #expect(throws: NodeListError.self) { try await waiting.value }
        #expect(error?.code == .serviceStopped)
    }
}
