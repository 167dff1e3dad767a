import AutoCluster
import Foundation
import Logging
@testable import NodeList
import ServiceLifecycle
import StoreTestSupport
import Testing

/// The node list's behaviour on each real store (ZooKeeper, etcd, Consul or its stand-in):
/// every test runs once per store, under its own key.
@Suite(.enabled(if: StoreKind.allEnabled, "needs ZOOKEEPER_CONNECT and ETCD_ENDPOINTS (scripts/test.sh)"))
struct StoreBehaviourTests {
    static let old = Date().addingTimeInterval(-3600)

    /// Runs `body` with a fixture for `kind` (the suite skips when a store is not configured).
    func with(_ kind: StoreKind, _ body: (StoreFixture) async throws -> Void) async throws {
        let fixture = try await StoreFixture.make(kind)
        do {
            try await body(fixture)
        } catch {
            await fixture.shutdown()
            throw error
        }
        await fixture.shutdown()
    }

    /// Writes `nodes` as the list (create-if-absent on an empty key), with `votes` (target →
    /// observers, every vote past grace).
    func plant(_ fixture: StoreFixture, _ nodes: [ClusterNode], votes: [ClusterNode: [ClusterNode]] = [:]) async throws {
        let backend = try await fixture.backend()
        var suspicions: [NodeIdentity: [NodeIdentity: Vote]] = [:]
        for (target, observers) in votes {
            suspicions[NodeIdentity(target)] = Dictionary(uniqueKeysWithValues: observers.map { (NodeIdentity($0), Vote(pastGrace: true)) })
        }
        let result = try await backend.createIfAbsent(key: fixture.key, value: NodeListDocument(nodes: nodes, suspicions: suspicions).encoded())
        guard case .created = result else { throw PlantError() }
    }
    struct PlantError: Error {}

    @Test(arguments: StoreKind.available)
    func emptyStoreCreatesTheListWithTheJoiner(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            let store = try await fixture.store()
            #expect(try await store.nodes().isEmpty)
            let me = ClusterNode(name: "n1", address: "127.0.0.1:7001")
            let outcome = try await store.join(me)
            #expect(outcome.created)
            #expect(outcome.seed == nil)
            #expect(outcome.attempts == 1)
            let other = try await fixture.store()
            #expect(try await other.nodes() == [me])
        }
    }

    @Test(arguments: StoreKind.available)
    func twoJoinersStartedTogetherEndInOneList(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            let a = try await fixture.store()
            let b = try await fixture.store()
            let na = ClusterNode(name: "a", address: "127.0.0.1:7001")
            let nb = ClusterNode(name: "b", address: "127.0.0.1:7002")
            async let ja = a.join(na)
            async let jb = b.join(nb)
            let (oa, ob) = try await (ja, jb)
            #expect([oa.created, ob.created].filter { $0 }.count == 1)
            let nodes = try await a.nodes()
            #expect(Set(nodes.map(\.name)) == ["a", "b"])
            #expect(nodes.count == 2)
        }
    }

    @Test(arguments: StoreKind.available)
    func thirtyConcurrentJoinersEachWithItsOwnClientAreAllListedOnce(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            var stores: [NodeListStore] = []
            for _ in 0..<30 { stores.append(try await fixture.store()) }
            let outcomes = try await withThrowingTaskGroup(of: JoinOutcome.self) { group in
                for (i, store) in stores.enumerated() {
                    group.addTask { try await store.join(ClusterNode(name: "n\(i)", address: "127.0.0.1:\(7000 + i)")) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter(\.created).count == 1)
            let nodes = try await stores[0].nodes()
            #expect(nodes.count == 30)
            #expect(Set(nodes.map(\.name)) == Set((0..<30).map { "n\($0)" }))
        }
    }

    @Test(arguments: StoreKind.available)
    func deadNodesAreSweptOnJoinWhenAMajorityAgrees(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            let live = try await LoopbackListener.start()
            let live2 = try await LoopbackListener.start()
            defer { Task { await live.close(); await live2.close() } }
            let n1 = ClusterNode(name: "dead1", address: try await LoopbackListener.deadAddress(), joinedAt: Self.old)
            let n2 = ClusterNode(name: "live", address: live.address, joinedAt: Self.old)
            let n3 = ClusterNode(name: "live2", address: live2.address, joinedAt: Self.old)
            let n4 = ClusterNode(name: "dead2", address: try await LoopbackListener.deadAddress(), joinedAt: Self.old)
            // live and live2 have voted both dead nodes dead; with the joiner they are 3 of 5.
            try await plant(fixture, [n1, n2, n3, n4], votes: [n1: [n2, n3], n4: [n2, n3]])
            let store = try await fixture.store(probe: TCPProbe(timeout: .seconds(3))) { $0.sweepGracePeriod = .zero }
            let seeds = TestMutex<[String]>([])
            let outcome = try await store.join(ClusterNode(name: "me", address: "127.0.0.1:7009")) { seed in
                seeds.withLock { $0.append(seed.name) }
            }
            #expect(outcome.isolated == false)
            #expect(outcome.seed?.name == "live")
            #expect(seeds.withLock { $0 } == ["live"])
            #expect(Set(outcome.swept.map(\.name)) == ["dead1", "dead2"])
            #expect(try await store.nodes().map(\.name) == ["live", "live2", "me"])
        }
    }

    @Test(arguments: StoreKind.available)
    func votesCastWithinTheObserversGracePeriodRemoveNothing(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            let listeners = [try await LoopbackListener.start(), try await LoopbackListener.start(), try await LoopbackListener.start()]
            defer { Task { for listener in listeners { await listener.close() } } }
            let observers = listeners.enumerated().map { ClusterNode(name: "l\($0.offset)", address: $0.element.address, joinedAt: Self.old) }
            let dead = try await LoopbackListener.deadAddress()
            let young = ClusterNode(name: "young", address: dead)
            let old = ClusterNode(name: "old", address: dead, joinedAt: Self.old)
            // Every observer has voted against both, but against "young" within its grace period.
            let document = NodeListDocument(
                nodes: observers + [young, old],
                suspicions: [
                    NodeIdentity(young): Dictionary(uniqueKeysWithValues: observers.map { (NodeIdentity($0), Vote(pastGrace: false)) }),
                    NodeIdentity(old): Dictionary(uniqueKeysWithValues: observers.map { (NodeIdentity($0), Vote(pastGrace: true)) }),
                ])
            let backend = try await fixture.backend()
            guard case .created = try await backend.createIfAbsent(key: fixture.key, value: document.encoded()) else { throw PlantError() }
            let store = try await fixture.store(probe: TCPProbe(timeout: .seconds(3))) { $0.sweepGracePeriod = .zero }
            let outcome = try await store.join(ClusterNode(name: "me", address: "127.0.0.1:7009"))
            #expect(outcome.swept.map(\.name) == ["old"])
            #expect(try await store.nodes().map(\.name) == ["l0", "l1", "l2", "young", "me"])
        }
    }

    @Test(arguments: StoreKind.available)
    func nothingIsSweptWhenNoListedNodeAnswers(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            let dead1 = try await LoopbackListener.deadAddress()
            let dead2 = try await LoopbackListener.deadAddress()
            try await plant(fixture, [
                ClusterNode(name: "a", address: dead1, joinedAt: Self.old),
                ClusterNode(name: "b", address: dead2, joinedAt: Self.old),
            ])
            let store = try await fixture.store(probe: TCPProbe(timeout: .seconds(3)))
            let outcome = try await store.join(ClusterNode(name: "me", address: "127.0.0.1:7009"))
            #expect(outcome.swept.isEmpty)
            #expect(outcome.seed == nil)
            #expect(try await store.nodes().map(\.name) == ["a", "b", "me"])
            #expect(try await store.sweep(excluding: "me").isEmpty)
        }
    }

    @Test(arguments: StoreKind.available)
    func aNodeNeverSweepsItself(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            let live = try await LoopbackListener.start()
            defer { Task { await live.close() } }
            let dead = try await LoopbackListener.deadAddress()
            let me = ClusterNode(name: "me", address: dead, joinedAt: Self.old)
            try await plant(fixture, [me, ClusterNode(name: "live", address: live.address, joinedAt: Self.old)])
            let probed = TestMutex<[String]>([])
            let tcp = TCPProbe(timeout: .seconds(3))
            let probe = ClosureProbe { node, timeout in
                probed.withLock { $0.append(node.name) }
                return await tcp.probe(node, timeout: timeout)
            }
            let store = try await fixture.store(probe: probe)
            let outcome = try await store.join(me)
            #expect(outcome.swept.isEmpty)
            #expect(try await store.sweep(excluding: "me").isEmpty)
            #expect(!probed.withLock { $0 }.contains("me"))
            #expect(try await store.nodes().map(\.name) == ["me", "live"])
        }
    }

    @Test(arguments: StoreKind.available)
    func leaveRemovesExactlyTheLeaver(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            let store = try await fixture.store()
            let nodes = (1...3).map { ClusterNode(name: "n\($0)", address: "127.0.0.1:\(7000 + $0)") }
            for node in nodes { try await store.join(node) }
            #expect(try await store.leave(nodes[1]))
            #expect(try await store.nodes() == [nodes[0], nodes[2]])
            #expect(try await store.leave(nodes[1]) == false)
            #expect(try await store.nodes() == [nodes[0], nodes[2]])
        }
    }

    @Test(arguments: StoreKind.available)
    func aCorruptValueIsReportedAndLeftUntouchedUnlessReplaceCorrupt(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            let backend = try await fixture.backend()
            let garbage = Array("{\"format\":1,\"nodes\":[{\"name\":\"x\"".utf8)
            guard case .created = try await backend.createIfAbsent(key: fixture.key, value: garbage) else {
                Issue.record("the key was not empty")
                return
            }
            let before = try await backend.read(key: fixture.key)
            let store = try await fixture.store()
            let error = await #expect(throws: NodeListError.self) {
                try await store.join(ClusterNode(name: "me", address: "127.0.0.1:7001"))
            }
            #expect(error?.code == .corruptValue)
            #expect(error?.version == before?.version)
            #expect(error?.bytes == garbage)
            await #expect(throws: NodeListError.self) { try await store.nodes() }
            #expect(try await backend.read(key: fixture.key) == before)

            let fixer = try await fixture.store { $0.corruptValuePolicy = .replaceCorrupt }
            let outcome = try await fixer.join(ClusterNode(name: "me", address: "127.0.0.1:7001"))
            #expect(outcome.nodes.map(\.name) == ["me"])
            #expect(try await store.nodes().map(\.name) == ["me"])
        }
    }

    @Test(arguments: StoreKind.available)
    func maxNodesIsEnforcedWithAClearError(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            let store = try await fixture.store { $0.maxNodes = 2 }
            try await store.join(ClusterNode(name: "a", address: "127.0.0.1:7001"))
            try await store.join(ClusterNode(name: "b", address: "127.0.0.1:7002"))
            let error = await #expect(throws: NodeListError.self) {
                try await store.join(ClusterNode(name: "c", address: "127.0.0.1:7003"))
            }
            #expect(error?.code == .tooManyNodes)
            #expect(error?.message.contains("maxNodes (2)") == true)
            #expect(try await store.nodes().map(\.name) == ["a", "b"])
        }
    }

    @Test(arguments: StoreKind.available)
    func updatesYieldsEveryCommittedChange(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            let watcher = try await fixture.store()
            let writer = try await fixture.store()
            let seen = TestMutex<[[String]]>([])
            let watching = Task {
                for try await nodes in watcher.updates() {
                    seen.withLock { $0.append(nodes.map(\.name)) }
                }
            }
            defer { watching.cancel() }
            try await waitFor { seen.withLock { $0 } == [[]] }
            var expected: [[String]] = [[]]
            for i in 1...4 {
                try await writer.join(ClusterNode(name: "n\(i)", address: "127.0.0.1:\(7000 + i)"))
                expected.append((1...i).map { "n\($0)" })
                try await waitFor { seen.withLock { $0 } == expected }
            }
            try await writer.leave(name: "n2")
            expected.append(["n1", "n3", "n4"])
            try await waitFor { seen.withLock { $0 } == expected }
            #expect(seen.withLock { $0 } == expected)
        }
    }

    @Test(arguments: StoreKind.available)
    func sharedSecretIsTheSameForEveryNode(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            let a = try await fixture.store()
            let b = try await fixture.store()
            async let sa = a.sharedSecret()
            async let sb = b.sharedSecret()
            let (secretA, secretB) = try await (sa, sb)
            #expect(secretA == secretB)
            #expect(secretA.count == 64)
            #expect(try await a.sharedSecret() == secretA)
        }
    }

    @Test(arguments: StoreKind.available)
    func aSweptButAliveMemberReAddsItselfAsANewIncarnation(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            let listener = try await LoopbackListener.start()
            let other = try await LoopbackListener.start()
            defer { Task { await listener.close(); await other.close() } }
            try await plant(fixture, [ClusterNode(name: "other", address: other.address, joinedAt: Self.old)])
            let me = ClusterNode(name: "me", address: listener.address)
            let service = NodeListService(
                store: try await fixture.store(probe: TCPProbe(timeout: .seconds(3))), node: me, refreshInterval: .milliseconds(300))
            let running = Task { try await service.run() }
            defer { running.cancel() }
            let observer = try await fixture.store()
            try await waitFor { try await observer.nodes().contains(me) }

            // Its entry is removed (as a sweep by the others would): the service, still reaching
            // "other" (a majority of the list), re-adds itself under a new incarnation.
            #expect(try await observer.leave(me))
            try await waitFor {
                let nodes = try await observer.nodes()
                return nodes.map(\.name) == ["other", "me"] && nodes[1].incarnation != me.incarnation
            }
            #expect(service.currentNode.incarnation != me.incarnation)
            #expect(try await observer.nodes().last == service.currentNode)
        }
    }

    @Test(arguments: StoreKind.available)
    func readinessWaitsForQuorumAndShutdownLeaves(_ kind: StoreKind) async throws {
        try await with(kind) { fixture in
            let listener = try await LoopbackListener.start()
            let peer = try await LoopbackListener.start()
            defer { Task { await listener.close(); await peer.close() } }
            let me = ClusterNode(name: "me", address: listener.address)
            let service = NodeListService(
                store: try await fixture.store(probe: TCPProbe(timeout: .seconds(3))), node: me, refreshInterval: .milliseconds(200), quorum: 2)
            let group = ServiceGroup(configuration: .init(services: [service], logger: Logger(label: "test")))
            let running = Task { try await group.run() }
            defer { running.cancel() }
            let observer = try await fixture.store()
            try await waitFor { try await observer.nodes().contains(me) }
            try await Task.sleep(for: .milliseconds(600))
            #expect(service.isReady == false)

            try await observer.join(ClusterNode(name: "peer", address: peer.address))
            try await waitFor { service.isReady }
            try await service.waitUntilReady()

            await group.triggerGracefulShutdown()
            try await running.value
            #expect(try await observer.nodes().map(\.name) == ["peer"])
        }
    }
}

/// Polls `condition` every 50 ms until it holds, failing after `timeout`.
func waitFor(
    timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("condition not met within \(timeout)", sourceLocation: sourceLocation)
    throw WaitTimeout()
}

struct WaitTimeout: Error {}
