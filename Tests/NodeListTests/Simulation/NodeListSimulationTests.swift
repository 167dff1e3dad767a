import AutoCluster
import Foundation
@testable import NodeList
import StoreTestSupport
import Testing

/// Thousands of seeded schedules of crashes, restarts, partitions (two sides, one node cut off,
/// non-transitive cuts), slow probes and CAS races, checked after every write (no entry lost,
/// one entry per name, no live well-connected or majority-side node swept) and after a heal
/// (every live member listed once and ready, the dead gone, the list quiet).
///
/// A failing schedule prints its seed and trace; replay one with
/// `AUTOCLUSTER_SIM_SEED=<seed> swift test --filter NodeListSimulationTests`.
/// `AUTOCLUSTER_SIM_SCHEDULES` sets how many run (default 1500).
@Suite struct NodeListSimulationTests {
    static let environment = ProcessInfo.processInfo.environment
    static var seeds: [UInt64] {
        if let one = environment["AUTOCLUSTER_SIM_SEED"].flatMap(UInt64.init) { return [one] }
        let count = environment["AUTOCLUSTER_SIM_SCHEDULES"].flatMap(Int.init) ?? 1500
        return (0..<UInt64(count)).map { 0xAC00_0000 + $0 }
    }

    /// One random schedule: members start within 2 s, then 120 s of faults every 3–15 s, then the
    /// network heals and members restart; after the settle time the list must have converged.
    static func chaos(seed: UInt64, skew: Double = 0, tracing: Bool = false) -> Simulation {
        var probe = SplitMix64(seed: seed)
        let nodes = Int.random(in: 3...7, using: &probe)
        var parameters = Simulation.Parameters()
        parameters.nodes = nodes
        parameters.skew = skew
        let sim = Simulation(seed: seed, parameters: parameters)
        sim.tracing = tracing
        for i in 0..<nodes { sim.at(.seconds(sim.random(0...2))) { sim.start(i) } }
        var t = 10.0
        while t < 130 {
            let when = Duration.seconds(t)
            let roll = sim.random(0...1)
            sim.at(when) {
                let alive = sim.members.indices.filter { sim.members[$0].alive }
                let dead = sim.members.indices.filter { !sim.members[$0].alive }
                switch roll {
                case ..<0.18:
                    if alive.count > 1, let victim = alive.randomElement(using: &probe) { sim.crash(victim) }
                case ..<0.30:
                    if let back = dead.randomElement(using: &probe) { sim.start(back) }
                case ..<0.48:
                    var shuffled = Array(sim.members.indices).shuffled(using: &probe)
                    let cut = Int.random(in: 1...(nodes - 1), using: &probe)
                    sim.partition([Array(shuffled[..<cut]), Array(shuffled[cut...])])
                    shuffled.removeAll()
                case ..<0.58:
                    let lone = Int.random(in: 0..<nodes, using: &probe)
                    sim.partition([[lone], sim.members.indices.filter { $0 != lone }])
                case ..<0.68:
                    // Non-transitive: random pairs cut (a reaches b, b reaches c, a does not reach c).
                    var pairs = Set<Simulation.Pair>()
                    for _ in 0..<Int.random(in: 1...nodes, using: &probe) {
                        let a = Int.random(in: 0..<nodes, using: &probe), b = Int.random(in: 0..<nodes, using: &probe)
                        if a != b { pairs.insert(.init(a, b)) }
                    }
                    sim.setCuts(pairs)
                case ..<0.74:
                    let a = Int.random(in: 0..<nodes, using: &probe), b = Int.random(in: 0..<nodes, using: &probe)
                    if a != b { sim.setCuts(sim.cuts, slow: [.init(a, b)]) }
                case ..<0.80:
                    if let leaver = alive.randomElement(using: &probe), alive.count > 1 {
                        sim.leave(leaver)
                        sim.after(.seconds(3)) { sim.start(leaver) }
                    }
                default:
                    sim.heal()
                }
            }
            t += sim.random(3...15)
        }
        // Heal, bring every member back, and let it settle.
        sim.at(.seconds(130)) {
            sim.heal()
            for i in sim.members.indices where !sim.members[i].alive { sim.start(i) }
        }
        return sim
    }

    /// Virtual time after the heal until the list must have converged: a grace period, the
    /// survivor delay, and four refresh rounds (5 s each, ±10 % jitter) with their probes.
    static let settle: Duration = .seconds(10 + 8 + 4 * 5.5 + 2)

    @Test func randomSchedulesKeepEveryInvariant() {
        var failures: [String] = []
        for seed in Self.seeds {
            let sim = Self.chaos(seed: seed)
            let end = Duration.seconds(130) + Self.settle
            sim.run(until: end)
            sim.checkConverged()
            let late = sim.writes(in: (end - .seconds(10))..<end)
            if !late.isEmpty { failures.append("seed \(seed): \(late.count) writes in the last 10 s after the heal — the list did not settle") }
            failures += sim.violations.map(\.description)
            if failures.count > 5 { break }
        }
        if let first = failures.first {
            let seed = UInt64(first.split(separator: " ")[1].trimmingCharacters(in: .punctuationCharacters)) ?? 0
            let replay = Self.chaos(seed: seed, tracing: true)
            replay.run(until: .seconds(130) + Self.settle)
            Issue.record("""
                \(failures.count) violation(s), first: \(first)
                all: \(failures.prefix(5).joined(separator: "\n"))
                replay with AUTOCLUSTER_SIM_SEED=\(seed); trace (last 60 lines):
                \(replay.trace.suffix(60).joined(separator: "\n"))
                """)
        }
    }

    /// The same schedules with every member's monotonic clock offset and wall clock skewed by up
    /// to ±1 h: the sequence of lists written (names, incarnations, votes) is identical.
    @Test func clockSkewOfAnHourChangesNothing() {
        for seed in Self.seeds.prefix(200) {
            let plain = Self.chaos(seed: seed)
            let skewed = Self.chaos(seed: seed, skew: 3600)
            let end = Duration.seconds(130) + Self.settle
            plain.run(until: end)
            skewed.run(until: end)
            let a = plain.writes.map { (Simulation.describe($0.next), $0.time, $0.writer) }
            let b = skewed.writes.map { (Simulation.describe($0.next), $0.time, $0.writer) }
            #expect(a.count == b.count, "seed \(seed): \(a.count) writes without skew, \(b.count) with")
            guard a.count == b.count else { return }
            for (x, y) in zip(a, b) where x != y {
                Issue.record("seed \(seed): the runs diverge at t=\(x.1): \(x.0) ≠ \(y.0)")
                return
            }
        }
    }

    /// Stable partitions — 3/3, 4/2, one of six cut off — held for 120 s: the list stops changing
    /// within a bounded number of writes, only the minority is ever swept, and after the heal every
    /// live node is listed exactly once.
    @Test(arguments: [[3, 3], [4, 2], [5, 1]])
    func aStablePartitionStopsChangingTheList(_ sides: [Int]) {
        for seed in Self.seeds.prefix(100) {
            var parameters = Simulation.Parameters()
            parameters.nodes = 6
            let sim = Simulation(seed: seed, parameters: parameters)
            for i in 0..<6 { sim.at(.seconds(sim.random(0...2))) { sim.start(i) } }
            sim.run(until: .seconds(30))
            let before = sim.writes.count
            sim.partition([Array(0..<sides[0]), Array(sides[0]..<6)])
            sim.run(until: .seconds(150))
            let during = sim.writes.count - before
            let quiet = sim.writes(in: .seconds(60)..<Duration.seconds(150))
            #expect(quiet.isEmpty, "seed \(seed) \(sides): \(quiet.count) writes after the partition had stood 30 s")
            // Every node votes at most once per verdict change and one write sweeps: ≤ 2 per node.
            #expect(during <= 12, "seed \(seed) \(sides): \(during) writes during the partition")
            if let value = sim.stored, let document = try? NodeListDocument.decode(value.bytes, version: value.version) {
                let listed = Set(document.nodes.map(\.name))
                if sides[0] == sides[1] {
                    #expect(listed.count == 6, "seed \(seed) \(sides): a half swept the other: \(listed.sorted())")
                } else {
                    #expect(listed == Set((0..<sides[0]).map { "n\($0)" }), "seed \(seed) \(sides): listed \(listed.sorted())")
                }
            }
            sim.heal()
            sim.run(until: .seconds(150) + Self.settle)
            sim.checkConverged()
            for violation in sim.violations { Issue.record("\(violation)") }
        }
    }
}
