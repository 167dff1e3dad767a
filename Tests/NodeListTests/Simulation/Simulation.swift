import AutoCluster
import Foundation
import StoreTestSupport
@testable import NodeList

/// A deterministic discrete-event simulation of a cluster of `NodeListService`-like members over
/// one compare-and-swap register, a network whose links the schedule cuts and heals, per-node
/// clocks with arbitrary offsets and skew, and seeded randomness for every latency, probe
/// outcome and backoff. Each member runs the real ``NodeListOperation`` state machine and
/// ``MembershipRules``; only the I/O around them is simulated, single-threaded in virtual time,
/// so a seed replays exactly.
final class Simulation {
    struct Parameters {
        var nodes = 5
        var refresh: Duration = .seconds(5)
        var probeTimeout: Duration = .milliseconds(500)
        var grace: Duration = .seconds(10)
        var survivorDelay: Duration = .seconds(8)
        /// Store latency of one leg (request or response), uniform in this range.
        var latency: ClosedRange<Double> = 0.0002...0.003
        /// Monotonic-clock offsets and wall-clock skew of each node, uniform in ±this (seconds).
        var skew: Double = 0
    }

    /// What one committed write did, as the register saw it.
    struct Write {
        var time: Duration
        var writer: Int
        var version: UInt64
        var previous: NodeListDocument?
        var next: NodeListDocument
    }

    struct Violation: Error, CustomStringConvertible {
        var seed: UInt64
        var time: Duration
        var what: String
        var description: String { "seed \(seed) at t=\(time): \(what)" }
    }

    final class Member {
        let index: Int
        let name: String
        let address: String
        var alive = false
        var incarnations = 0
        var current: ClusterNode
        var memory = ObserverMemory()
        var generation = 0
        var connected = false
        var ready = false
        var busy = false
        let clockOffset: Duration
        let wallSkew: Double
        var lastDisturbed: Duration = .zero

        init(index: Int, clockOffset: Duration, wallSkew: Double) {
            self.index = index
            self.name = "n\(index)"
            self.address = "10.255.0.\(index + 1):7000"  // never dialled: the network is simulated
            self.clockOffset = clockOffset
            self.wallSkew = wallSkew
            self.current = ClusterNode(name: name, address: address, incarnation: "none")
        }
    }

    let seed: UInt64
    let parameters: Parameters
    private var rng: SplitMix64
    private(set) var now: Duration = .zero
    private var queue = EventQueue()
    private(set) var stored: VersionedValue?
    private var nextVersion: UInt64 = 1
    private(set) var writes: [Write] = []
    private var writeTimes: [UInt64: (time: Duration, previous: NodeListDocument?)] = [:]
    private(set) var members: [Member] = []
    /// Unordered pairs of members that cannot reach each other.
    private(set) var cuts = Set<Pair>()
    /// Probes between these pairs are slow (they time out although both ends are up).
    private var slowPairs = Set<Pair>()
    /// When each pair was last cut or slow (or its state changed).
    private var pairDisturbed: [Pair: Duration] = [:]
    private(set) var violations: [Violation] = []
    /// A readable trace of what happened (printed for a failing seed).
    private(set) var trace: [String] = []
    var tracing = false

    struct Pair: Hashable {
        let a: Int, b: Int
        init(_ x: Int, _ y: Int) { (a, b) = x < y ? (x, y) : (y, x) }
    }

    static let key = "/sim/list"

    init(seed: UInt64, parameters: Parameters) {
        self.seed = seed
        self.parameters = parameters
        self.rng = SplitMix64(seed: seed)
        // The skew comes from its own generator, so a skewed run draws the same schedule.
        var skewRandom = SplitMix64(seed: seed ^ 0x5eed_5eed)
        for index in 0..<parameters.nodes {
            let offset = parameters.skew == 0 ? 0 : Double.random(in: -parameters.skew...parameters.skew, using: &skewRandom)
            let wall = parameters.skew == 0 ? 0 : Double.random(in: -parameters.skew...parameters.skew, using: &skewRandom)
            members.append(Member(index: index, clockOffset: .seconds(offset) + .seconds(7200), wallSkew: wall))
        }
    }

    // MARK: - Randomness and time

    func random(_ range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &rng) }
    func randomInt(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    func chance(_ p: Double) -> Bool { random(0...1) < p }

    private func latency() -> Duration { .seconds(random(parameters.latency)) }

    func at(_ time: Duration, _ body: @escaping () -> Void) { queue.push(time, body) }

    func after(_ delay: Duration, _ body: @escaping () -> Void) { at(now + delay, body) }

    /// Runs every event up to `time`.
    func run(until time: Duration) {
        while let (when, body) = queue.pop(notAfter: time) {
            now = when
            body()
        }
        now = time
    }

    private func log(_ line: @autoclosure () -> String) {
        if tracing { trace.append("t=\(now) \(line())") }
    }

    private func violation(_ what: String) {
        violations.append(Violation(seed: seed, time: now, what: what))
        log("VIOLATION \(what)")
    }

    // MARK: - The network

    func reachable(_ a: Int, _ b: Int) -> Bool {
        a == b || (members[b].alive && !cuts.contains(Pair(a, b)))
    }

    /// Replaces the cut links with `newCuts` (pairs), marking every member whose links changed.
    func setCuts(_ newCuts: Set<Pair>, slow: Set<Pair> = []) {
        let changed = cuts.symmetricDifference(newCuts).union(slowPairs.symmetricDifference(slow))
        for pair in changed.union(newCuts).union(slow) {
            members[pair.a].lastDisturbed = now
            members[pair.b].lastDisturbed = now
            pairDisturbed[pair] = now
        }
        // Pairs that stay cut are disturbed until they heal.
        for pair in cuts.intersection(newCuts).union(slowPairs.intersection(slow)) { pairDisturbed[pair] = now }
        cuts = newCuts
        slowPairs = slow
        log("cuts \(cuts.map { "\($0.a)|\($0.b)" }.sorted()) slow \(slow.map { "\($0.a)~\($0.b)" }.sorted())")
    }

    /// Splits the members into `groups`; links between groups are cut.
    func partition(_ groups: [[Int]]) {
        var newCuts = Set<Pair>()
        for (i, g) in groups.enumerated() {
            for other in groups[(i + 1)...] {
                for a in g { for b in other { newCuts.insert(Pair(a, b)) } }
            }
        }
        setCuts(newCuts)
    }

    func heal() { setCuts([]) }

    /// The live members `member` can reach (itself included), following cut links.
    func component(of member: Int) -> Set<Int> {
        var seen: Set<Int> = [member]
        var frontier = [member]
        while let next = frontier.popLast() {
            for other in members.indices where !seen.contains(other) && members[other].alive && reachable(next, other) {
                seen.insert(other)
                frontier.append(other)
            }
        }
        return seen
    }

    // MARK: - Members

    private func monotonic(_ member: Member) -> Duration { now + member.clockOffset }

    private func wall(_ member: Member) -> Date {
        Date(timeIntervalSince1970: 1_800_000_000 + Double(now.components.seconds) + member.wallSkew)
    }

    func start(_ index: Int) {
        let member = members[index]
        guard !member.alive else { return }
        member.alive = true
        member.generation += 1
        member.incarnations += 1
        member.memory = ObserverMemory()
        member.connected = false
        member.ready = false
        member.busy = false
        member.lastDisturbed = now
        member.current = ClusterNode(
            name: member.name, address: member.address, incarnation: "\(member.name)-i\(member.incarnations)", joinedAt: wall(member))
        log("start \(member.current.incarnation)")
        joinLoop(member, policy: .add)
    }

    func crash(_ index: Int) {
        let member = members[index]
        guard member.alive else { return }
        member.alive = false
        member.ready = false
        member.generation += 1
        member.lastDisturbed = now
        log("crash \(member.current.incarnation)")
    }

    var rules: MembershipRules {
        MembershipRules(
            sweepGracePeriod: parameters.grace, survivorDelay: parameters.survivorDelay, verdictLifetime: parameters.probeTimeout)
    }

    var limits: NodeListOperation.Limits {
        NodeListOperation.Limits(
            maxNodes: 1000, maxCASAttempts: 1000, maximumValueSize: nil, corruptValuePolicy: .fail,
            backoff: NodeListStore.Backoff(), storeName: "simulated")
    }

    /// The first join: retried every second until it succeeds, then the refresh loop.
    private func joinLoop(_ member: Member, policy: IsolatedJoinPolicy) {
        let generation = member.generation
        perform(member, .join(member.current, policy)) { [self] outcome in
            guard member.generation == generation else { return }
            guard let outcome else {
                after(.seconds(1)) { [self] in if member.generation == generation { joinLoop(member, policy: policy) } }
                return
            }
            absorbJoin(member, outcome, node: member.current)
            scheduleRefresh(member)
        }
    }

    private func absorbJoin(_ member: Member, _ outcome: NodeListOperation.Outcome, node: ClusterNode) {
        let added = outcome.created || outcome.wrote || outcome.nodes.contains { NodeIdentity($0) == NodeIdentity(node) }
        if added {
            member.current = node
            member.connected = member.connected || outcome.seed != nil || outcome.created || outcome.listed == 1
        }
        member.ready = added && !outcome.isolated
    }

    private func scheduleRefresh(_ member: Member) {
        let generation = member.generation
        let jitter = random(0.9...1.1)
        after(parameters.refresh * jitter) { [self] in
            guard member.generation == generation else { return }
            refresh(member)
        }
    }

    private func refresh(_ member: Member) {
        let generation = member.generation
        let me = member.current
        perform(member, .refresh(NodeIdentity(me))) { [self] outcome in
            guard member.generation == generation else { return }
            guard let outcome else { return scheduleRefresh(member) }
            if outcome.selfListed {
                if !outcome.isolated && !member.connected {
                    perform(member, .join(me, .wait)) { [self] joined in
                        guard member.generation == generation else { return }
                        if let joined { absorbJoin(member, joined, node: me) }
                        scheduleRefresh(member)
                    }
                    return
                }
                member.ready = !outcome.isolated
                scheduleRefresh(member)
            } else {
                member.incarnations += 1
                member.connected = false
                member.ready = false
                let fresh = ClusterNode(
                    name: member.name, address: member.address, incarnation: "\(member.name)-i\(member.incarnations)",
                    joinedAt: wall(member))
                perform(member, .join(fresh, .wait)) { [self] joined in
                    guard member.generation == generation else { return }
                    if let joined { absorbJoin(member, joined, node: fresh) }
                    scheduleRefresh(member)
                }
            }
        }
    }

    /// Graceful leave of a running member.
    func leave(_ index: Int) {
        let member = members[index]
        guard member.alive else { return }
        let me = member.current
        member.generation += 1
        perform(member, .leave(.identity(NodeIdentity(me)))) { [self] _ in
            member.alive = false
            member.ready = false
            log("left \(me.incarnation)")
        }
    }

    // MARK: - Performing an operation's actions

    private final class Running {
        var operation: NodeListOperation
        init(_ operation: NodeListOperation) { self.operation = operation }
    }

    private func perform(_ member: Member, _ kind: NodeListOperation.Kind, done: @escaping (NodeListOperation.Outcome?) -> Void) {
        let running = Running(NodeListOperation(kind: kind, rules: rules, limits: limits, key: Self.key))
        let generation = member.generation
        let leaving: Bool = if case .leave = kind { true } else { false }
        func deliver(_ event: NodeListOperation.Event) {
            guard member.generation == generation || leaving else { return }
            var memory = member.memory
            let action = running.operation.handle(event, memory: &memory, now: monotonic(member))
            member.memory = memory
            act(action)
        }
        func act(_ action: NodeListOperation.Action) {
            switch action {
            case .finish(let outcome):
                check(outcome, by: member, kind: kind)
                done(outcome)
            case .fail(let error):
                log("\(member.name) \(kind) failed: \(error.message)")
                done(nil)
            case .read:
                let arrive = latency()
                after(arrive) { [self] in
                    let value = stored
                    after(latency()) { deliver(.read(value)) }
                }
            case .probe(let nodes):
                var verdicts: [(node: ClusterNode, alive: Bool)] = []
                var slowest: Duration = .milliseconds(1)
                for node in nodes {
                    let target = members.first { $0.name == node.name && $0.alive && $0.current.incarnation == node.incarnation }
                    var alive = false
                    if let target, reachable(member.index, target.index) {
                        alive = !slowPairs.contains(Pair(member.index, target.index))
                    }
                    if !alive { slowest = parameters.probeTimeout }
                    verdicts.append((node, alive))
                }
                after(slowest) { deliver(.probed(verdicts)) }
            case .connect(let candidates):
                let found = candidates.first { node in
                    members.contains { $0.name == node.name && $0.alive && $0.current.incarnation == node.incarnation && reachable(member.index, $0.index) }
                }
                after(.milliseconds(1)) { deliver(.connected(found, failure: found == nil ? "unreachable" : nil)) }
            case .create(let bytes):
                let out = latency()
                let back = latency()
                after(out) { [self] in
                    let result: CreateResult
                    if let existing = stored {
                        result = .exists(existing)
                    } else {
                        result = .created(version: commit(bytes, writer: member.index))
                    }
                    after(back) { deliver(.created(result)) }
                }
            case .swap(let expected, let bytes):
                let out = latency()
                let back = latency()
                after(out) { [self] in
                    let result: SwapResult
                    if let existing = stored, existing.version == expected {
                        result = .swapped(version: commit(bytes, writer: member.index))
                    } else {
                        result = .conflict(current: stored)
                    }
                    after(back) { deliver(.swapped(result, latency: out + back)) }
                }
            case .backoff(let bound, _):
                let wait = NodeListStore.Backoff().wait(bound: bound, random: random(0...1))
                after(wait) { deliver(.slept(wait)) }
            }
        }
        act(running.operation.start())
    }

    private func commit(_ bytes: [UInt8], writer: Int) -> UInt64 {
        let previous = stored.flatMap { try? NodeListDocument.decode($0.bytes, version: $0.version) }
        let version = nextVersion
        nextVersion += 1
        stored = VersionedValue(bytes: bytes, version: version)
        guard let next = try? NodeListDocument.decode(bytes, version: version) else {
            violation("\(members[writer].name) wrote a value that does not decode")
            return version
        }
        writes.append(Write(time: now, writer: writer, version: version, previous: previous, next: next))
        writeTimes[version] = (now, previous)
        log("\(members[writer].name) wrote v\(version): \(Self.describe(next))")
        checkWrite(next, writer: writer)
        return version
    }

    static func describe(_ document: NodeListDocument) -> String {
        document.nodes.map { node in
            let votes = document.suspicions[NodeIdentity(node)].map { " ×" + $0.map { $0.key.name + ($0.value.pastGrace ? "" : "?") + ($0.value.challenge ? "!" : "") }.sorted().joined(separator: ",") } ?? ""
            return node.incarnation + votes
        }.joined(separator: " ")
    }

    // MARK: - Invariants

    /// Checked on every committed value: one entry per name; no live, well-connected node swept.
    private func checkWrite(_ next: NodeListDocument, writer: Int) {
        let names = next.nodes.map(\.name)
        if Set(names).count != names.count { violation("a name is listed twice: \(names)") }
    }

    /// Checked when an operation finishes: what its write removed is exactly what its decision
    /// removed (no entry lost), and no sweep broke the safety rules against the ground truth.
    private func check(_ outcome: NodeListOperation.Outcome, by member: Member, kind: NodeListOperation.Kind) {
        guard outcome.wrote, !outcome.created, let (time, previous) = writeTimes[outcome.version], let previous else { return }
        guard let next = writes.first(where: { $0.version == outcome.version })?.next else { return }
        let before = Set(MembershipRules.deduplicated(previous).nodes.map(NodeIdentity.init))
        let after = Set(next.nodes.map(NodeIdentity.init))
        var allowed = Set((outcome.swept + outcome.replaced).map(NodeIdentity.init))
        if case .leave(let match) = kind { allowed.formUnion(previous.nodes.filter(match.matches).map(NodeIdentity.init)) }
        let removed = before.subtracting(after)
        if !removed.isSubset(of: allowed) {
            violation("\(member.name)'s write v\(outcome.version) lost \(removed.subtracting(allowed).sorted())")
        }
        let window = parameters.probeTimeout + .milliseconds(20)
        // A vote can be one refresh old: who could have voted against a node at `time`.
        let voteWindow = parameters.refresh * 1.1 + parameters.probeTimeout + .milliseconds(50)
        func couldVote(_ observer: Int, against target: Int) -> Bool {
            let pair = Pair(observer, target)
            return cuts.contains(pair) || slowPairs.contains(pair) || (pairDisturbed[pair].map { time - $0 <= voteWindow } ?? false)
        }
        for swept in outcome.swept {
            if let target = members.first(where: { $0.name == swept.name }), target.alive,
               target.current.incarnation == swept.incarnation {
                if outcome.isolated {
                    violation("\(member.name) swept \(swept.incarnation) under the survivor rule although it is alive and reads the store (v\(outcome.version))")
                }
                // The list the decision counted: the entries it read, and a joiner's own.
                let counted = before.union(after.subtracting(before))
                let voters = counted.filter { id in
                    id.name != target.name
                        && members.contains {
                            ($0.alive || time - $0.lastDisturbed <= voteWindow)  // alive, or crashed after voting
                                && ($0.current.incarnation == id.incarnation || ($0 === member && id.name == member.name))
                                && couldVote($0.index, against: target.index)
                        }
                }
                if 2 * voters.count <= counted.count {
                    violation("\(member.name) swept \(swept.incarnation), which only \(voters.count) of \(counted.count) listed could have found dead (v\(outcome.version))")
                }
            }
            guard let target = members.first(where: { $0.name == swept.name }), target.alive,
                  target.current.incarnation == swept.incarnation, time - target.lastDisturbed > window,
                  !slowPairs.contains(where: { $0.a == target.index || $0.b == target.index })
            else { continue }
            // A live node whose links have been stable for longer than a probe round was swept
            // although every live node reaches it directly, or although it sits on the majority side
            // of a clean partition (its side a clique cut from everyone else).
            let reachers = Set(members.indices.filter { members[$0].alive && reachable($0, target.index) })
            if reachers.count == members.filter(\.alive).count {
                violation("\(member.name) swept \(swept.incarnation), live and reachable from every live node (v\(outcome.version))")
                continue
            }
            let clique = reachers.allSatisfy { a in reachers.allSatisfy { b in reachable(a, b) } }
            let sealed = reachers.allSatisfy { a in members.indices.allSatisfy { b in reachers.contains(b) || !members[b].alive || !reachable(a, b) } }
            let listedSide = before.filter { id in reachers.contains { members[$0].current.incarnation == id.incarnation } }
            if clique && sealed && 2 * listedSide.count > before.count {
                violation("\(member.name) swept \(swept.incarnation), live on the majority side (\(listedSide.count) of \(before.count) listed) (v\(outcome.version))")
            }
        }
    }

    /// The state once the network has been healed long enough: every live member listed exactly
    /// once and ready; no entry of a crashed run left, unless exactly the documented limitation
    /// holds (the live members are no majority of the list and the entry voted against one of them).
    func checkConverged() {
        guard let value = stored, let document = try? NodeListDocument.decode(value.bytes, version: value.version) else {
            if members.contains(where: \.alive) { violation("no list although members run") }
            return
        }
        let live = members.filter(\.alive)
        for member in live {
            let entries = document.nodes.filter { $0.name == member.name }
            if entries.count != 1 || entries.first?.incarnation != member.current.incarnation {
                violation("\(member.current.incarnation) is listed as \(entries.map(\.incarnation)) after the heal")
            }
            if !member.ready { violation("\(member.current.incarnation) is not ready after the heal") }
        }
        let liveIDs = Set(live.map { NodeIdentity($0.current) })
        let majority = 2 * liveIDs.intersection(document.nodes.map(NodeIdentity.init)).count > document.nodes.count
        for entry in document.nodes where !liveIDs.contains(NodeIdentity(entry)) && !live.isEmpty {
            let votedAgainstLive = liveIDs.contains { document.suspicions[$0]?[NodeIdentity(entry)] != nil }
            if majority || !votedAgainstLive {
                violation("the dead entry \(entry.incarnation) is still listed after the heal: \(Self.describe(document))")
            }
        }
    }

    /// Writes committed in `range`.
    func writes(in range: Range<Duration>) -> [Write] { writes.filter { range.contains($0.time) } }
}

/// A min-heap of timed events; ties run in insertion order, so a seed replays exactly.
struct EventQueue {
    private var heap: [(time: Duration, order: Int, body: () -> Void)] = []
    private var order = 0

    mutating func push(_ time: Duration, _ body: @escaping () -> Void) {
        order += 1
        heap.append((time, order, body))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.less(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop(notAfter limit: Duration) -> (Duration, () -> Void)? {
        guard let first = heap.first, first.time <= limit else { return nil }
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < heap.count && Self.less(heap[l], heap[smallest]) { smallest = l }
            if r < heap.count && Self.less(heap[r], heap[smallest]) { smallest = r }
            if smallest == i { break }
            heap.swapAt(i, smallest)
            i = smallest
        }
        return (first.time, first.body)
    }

    private static func less(_ a: (time: Duration, order: Int, body: () -> Void), _ b: (time: Duration, order: Int, body: () -> Void)) -> Bool {
        a.time < b.time || (a.time == b.time && a.order < b.order)
    }
}

