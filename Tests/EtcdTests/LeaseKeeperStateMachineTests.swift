@testable import Etcd
import StoreTestSupport
import Testing

/// The lease keeper's protocol state (`LeaseKeeperStateMachine`), without a server: every event
/// is fed with an instant of the test's choosing, every action is checked.
@Suite("Lease keeper state machine: deadlines, renewal pacing, re-open backoff (no server)")
struct LeaseKeeperStateMachineTests {
    typealias Machine = LeaseKeeperStateMachine<String>
    typealias Instant = ContinuousClock.Instant

    static let tick = LeaseKeeper.tick
    static let t0 = ContinuousClock.now

    /// Drives a machine the way `LeaseKeeper` does and records what it was told to do.
    struct Harness {
        var machine = Machine(initialBackoff: .milliseconds(50), maxBackoff: .seconds(1))
        var now = LeaseKeeperStateMachineTests.t0
        var sends: [(at: Instant, id: Int64)] = []
        var expired: [(at: Instant, name: String)] = []
        var renewed: [(at: Instant, name: String, ttl: Duration)] = []
        var finished: [String] = []
        var random = SplitMix64(seed: 42)

        mutating func record(_ actions: Machine.Actions) {
            for id in actions.send { sends.append((now, id)) }
            for (name, ttl) in actions.renewed { renewed.append((now, name, ttl)) }
            for name in actions.expired { expired.append((now, name)) }
            finished += actions.finished
        }

        @discardableResult
        mutating func add(_ id: Int64, _ name: String, ttl: Duration?) -> (generation: UInt64, lookUp: Bool) {
            guard case .added(let generation, let lookUp, let actions) = machine.add(id, subscriber: name, ttl: ttl, now: now) else {
                Issue.record("add was rejected")
                return (0, false)
            }
            record(actions)
            return (generation, lookUp)
        }

        mutating func open() { record(machine.streamOpened(now: now)) }
        @discardableResult
        mutating func end() -> Duration { machine.streamEnded(now: now, using: &random) }
        mutating func answer(_ id: Int64, ttl: Duration) { record(machine.answered(id, ttl: ttl, now: now)) }

        /// Ticks every `tick` until `end` (inclusive), calling `each` before each tick.
        mutating func run(until end: Instant, tick: Duration = LeaseKeeperStateMachineTests.tick,
                          each: (inout Harness) -> Void = { _ in }) {
            while now <= end {
                each(&self)
                record(machine.tick(now: now))
                now += tick
            }
        }

        func sends(of id: Int64, in range: Range<Instant>) -> Int {
            sends.filter { $0.id == id && range.contains($0.at) }.count
        }
    }

    // MARK: Expiry

    /// How the stream behaves in an expiry scenario where no renewal is ever answered.
    enum StreamScenario: String, CaseIterable, CustomTestStringConvertible {
        case openBeforeKeepAlive, openedAfterKeepAlive, neverOpens, reopensEverySecond
        var testDescription: String { rawValue }
    }

    @Test("no renewal ever answered: .expired at the first tick at or after the keepAlive call + TTL, never before, whatever the stream does",
          arguments: StreamScenario.allCases, [Duration.seconds(1), .seconds(3), .seconds(10)])
    func expiryWithoutAnyAnswer(scenario: StreamScenario, ttl: Duration) {
        var h = Harness()
        if scenario == .openBeforeKeepAlive { h.open() }
        h.now += .milliseconds(70)  // the call is not on a tick
        let called = h.now
        h.add(1, "a", ttl: ttl)
        if scenario == .openedAfterKeepAlive {
            h.now += .milliseconds(30)
            h.open()
        }
        var lastReopen = h.now
        h.run(until: called + ttl * 2) { h in
            if scenario == .reopensEverySecond, h.now - lastReopen >= .seconds(1) {
                h.end()
                h.open()
                lastReopen = h.now
            }
        }
        #expect(h.expired.map(\.name) == ["a"])
        let at = h.expired.first?.at ?? h.now
        #expect(at >= called + ttl, "expired \(at - called) after the call, before its TTL \(ttl)")
        #expect(at - called <= ttl + Self.tick, "expired \(at - called) after the call: more than TTL \(ttl) + one tick")
        // Nothing is sent for it once it expired.
        #expect(h.sends(of: 1, in: at..<h.now) == 0)
    }

    @Test("renewals answered, then none: .expired one TTL after the last answered renewal's send, within one tick; before that only .renewed")
    func expiryAfterTheLastAnswer() {
        var h = Harness()
        h.open()
        let ttl = Duration.seconds(3)
        h.add(7, "a", ttl: ttl)
        var lastAnsweredSend: Instant?
        var lastAnswer: Instant?
        // etcd answers every renewal sent in the first 5 s, 40 ms later; then it goes silent.
        var seen = 0
        var pending: [Instant] = []
        h.run(until: Self.t0 + .seconds(15), tick: .milliseconds(10)) { h in
            pending += h.sends[seen...].filter { $0.id == 7 }.map(\.at)
            seen = h.sends.count
            while let sent = pending.first, h.now >= sent + .milliseconds(40) {
                pending.removeFirst()
                if sent < Self.t0 + .seconds(5) {
                    h.answer(7, ttl: ttl)
                    lastAnsweredSend = sent
                    lastAnswer = h.now
                }
            }
        }
        #expect(h.renewed.count >= 5, "renewals answered in 5 s at TTL/3: \(h.renewed.count)")
        #expect(h.renewed.allSatisfy { $0.ttl == ttl && $0.name == "a" })
        #expect(h.expired.map(\.name) == ["a"])
        if let at = h.expired.first?.at, let lastAnsweredSend, let lastAnswer {
            #expect(at >= lastAnsweredSend + ttl)
            #expect(at - lastAnswer <= ttl + Self.tick, "expired \(at - lastAnswer) after the last answer")
            #expect(h.renewed.allSatisfy { $0.at < at })
        }
    }

    @Test("an answer with TTL ≤ 0 (lease gone) reports .expired at once; the lease is then neither renewed nor reported again",
          arguments: [Duration.zero, .seconds(-1)])
    func goneAnswer(ttl: Duration) {
        var h = Harness()
        h.open()
        h.add(3, "a", ttl: .seconds(10))
        h.add(4, "b", ttl: .seconds(10))
        #expect(h.sends.map(\.id).sorted() == [3, 4])
        h.now += .milliseconds(20)
        h.answer(3, ttl: ttl)
        #expect(h.expired.map(\.name) == ["a"])
        #expect(h.machine.leases[3] == nil)
        h.run(until: Self.t0 + .seconds(20))
        #expect(h.sends(of: 3, in: Self.t0 + .milliseconds(1)..<h.now) == 0)
        #expect(h.expired.map(\.name) == ["a", "b"])
    }

    // MARK: Renewal pacing

    @Test("no answers: at most 3 renewals per TTL per lease, plus one per stream (re)open; sends on one stream at least TTL/3 (≥ 500 ms) apart",
          arguments: [Duration.seconds(1), .seconds(2), .seconds(3), .seconds(10), .seconds(60)], [0, 1, 4])
    func pacingWithoutAnswers(ttl: Duration, reopens: Int) {
        var h = Harness()
        h.open()
        h.add(1, "a", ttl: ttl)
        let interval = Machine.interval(ttl: ttl)
        // Re-open `reopens` times, evenly spread over the TTL.
        var reopenAt = reopens == 0 ? [] : (1...reopens).map { Self.t0 + ttl * (Double($0) / Double(reopens + 1)) }
        var reopened: [Instant] = []
        h.run(until: Self.t0 + ttl * 2, tick: .milliseconds(10)) { h in
            if let next = reopenAt.first, h.now >= next {
                reopenAt.removeFirst()
                h.end()
                h.open()
                reopened.append(h.now)
            }
        }
        let all = h.sends.filter { $0.id == 1 }.map(\.at)
        #expect(all.count <= 3 + reopens, "\(all.count) sends in one TTL of \(ttl) with \(reopens) re-opens")
        #expect(all.count >= 1)
        #expect(all.allSatisfy { $0 < Self.t0 + ttl }, "sent after the lease expired")
        // Two sends closer than the interval: only when the later one is a re-open's.
        for (a, b) in zip(all, all.dropFirst()) where b - a < interval {
            #expect(reopened.contains(b), "sends \(b - a) apart without a re-open")
        }
        #expect(h.expired.count == 1)
    }

    @Test("answered renewals are paced at TTL/3 (≥ 500 ms): never the per-second resend of unanswered ones",
          arguments: [Duration.seconds(1), .seconds(3), .seconds(30)])
    func pacingWithAnswers(ttl: Duration) {
        var h = Harness()
        h.open()
        h.add(1, "a", ttl: ttl)
        let span = ttl * 4
        h.run(until: Self.t0 + span, tick: .milliseconds(10)) { h in
            // Answer every send 20 ms later.
            for send in h.sends where send.id == 1 && h.now - send.at >= .milliseconds(20) && h.now - send.at < .milliseconds(30) {
                h.answer(1, ttl: ttl)
            }
        }
        let interval = Machine.interval(ttl: ttl)
        let sends = h.sends.map(\.at)
        for (a, b) in zip(sends, sends.dropFirst()) { #expect(b - a >= interval) }
        #expect(sends.count <= Int((span / interval).rounded(.up)) + 1)
        #expect(h.expired.isEmpty, "an answered lease expired")
    }

    @Test("the renewal interval is a third of the TTL, at least 500 ms")
    func interval() {
        #expect(Machine.interval(ttl: .seconds(9)) == .seconds(3))
        #expect(Machine.interval(ttl: .seconds(1)) == .milliseconds(500))
        #expect(Machine.interval(ttl: .milliseconds(900)) == .milliseconds(500))
    }

    // MARK: Re-open backoff

    @Test("re-open delays grow from initialBackoff to maxBackoff, each within 0.8…1.2 of its nominal value, with jitter, for many seeds")
    func backoffGrowsWithJitter() {
        let initial = Duration.milliseconds(50), maximum = Duration.seconds(1)
        var all: [Double] = []
        for seed in UInt64(1)...50 {
            var h = Harness()
            h.random = SplitMix64(seed: seed)
            var nominal = initial
            for _ in 0..<10 {
                let delay = h.end()
                #expect(delay >= nominal * 0.8 && delay <= nominal * 1.2, "delay \(delay) for nominal \(nominal)")
                all.append(delay / nominal)
                nominal = min(nominal * 2, maximum)
            }
            #expect(h.machine.backoff == maximum)
        }
        // Jitter: the factors spread over the range, not one value.
        #expect(all.min()! < 0.85 && all.max()! > 1.15)
        #expect(Set(all.map { ($0 * 1000).rounded() }).count > 100)
        // The first pause is about initialBackoff, later ones about maxBackoff.
        var h = Harness()
        let first = h.end()
        #expect(first >= initial * 0.8 && first <= initial * 1.2)
    }

    @Test("the backoff resets to initialBackoff once a re-opened stream answers a renewal; a re-open without an answer does not reset it")
    func backoffResets() {
        var h = Harness()
        h.open()
        h.add(1, "a", ttl: .seconds(30))
        for _ in 0..<6 {
            h.end()
            h.open()  // opens, sends, nothing answered
        }
        #expect(h.machine.backoff == .seconds(1))
        let unanswered = h.end()
        #expect(unanswered >= .milliseconds(800))
        h.open()
        h.now += .milliseconds(20)
        h.answer(1, ttl: .seconds(30))
        #expect(h.machine.backoff == .milliseconds(50))
        let afterAnswer = h.end()
        #expect(afterAnswer >= .milliseconds(40) && afterAnswer <= .milliseconds(60))
        #expect(h.machine.backoff == .milliseconds(100))
        // An answer that reports the lease gone is an answer too: the stream works.
        h.end()
        h.open()
        h.answer(1, ttl: .zero)
        #expect(h.machine.backoff == .milliseconds(50))
    }

    // MARK: Removal, replacement, lookup

    @Test("a second keepAlive of the same lease replaces the first (finished, no event); removing by the old generation keeps the new one; by the new one stops renewing")
    func replacementByGeneration() {
        var h = Harness()
        h.open()
        let first = h.add(5, "first", ttl: .seconds(3))
        h.now += .milliseconds(100)
        let second = h.add(5, "second", ttl: .seconds(3))
        #expect(first.generation != second.generation)
        #expect(h.finished == ["first"])
        // The replacement keeps the renewal schedule: no extra send 100 ms after the first.
        #expect(h.sends.count == 1)
        h.machine.remove(5, generation: first.generation)
        #expect(h.machine.leases[5]?.subscriber == "second")
        h.now += .milliseconds(10)
        h.answer(5, ttl: .seconds(3))
        #expect(h.renewed.map(\.name) == ["second"])
        h.machine.remove(5, generation: second.generation)
        #expect(h.machine.leases[5] == nil)
        let before = h.sends.count
        h.run(until: Self.t0 + .seconds(10))
        #expect(h.sends.count == before)
        #expect(h.expired.isEmpty)
        h.answer(5, ttl: .seconds(3))
        #expect(h.renewed.count == 1)
    }

    @Test("a replacement keeps the earlier deadline: re-calling keepAlive does not postpone the expiry")
    func replacementKeepsTheEarlierDeadline() {
        var h = Harness()
        h.add(5, "first", ttl: .seconds(3))
        h.now += .seconds(2)
        h.add(5, "second", ttl: .seconds(3))
        h.run(until: Self.t0 + .seconds(6))
        #expect(h.expired.map(\.name) == ["second"])
        if let at = h.expired.first?.at { #expect(at - Self.t0 <= .seconds(3) + Self.tick) }
    }

    @Test("keepAlive without a TTL: nothing sent until the lookup answers; unknown lease → .expired; remaining time → deadline = lookup send + remaining; failure → the subscriber is finished by the caller; stale generations ignored")
    func ttlLookup() {
        var h = Harness()
        h.open()
        let a = h.add(1, "a", ttl: nil)
        #expect(a.lookUp)
        let b = h.add(2, "b", ttl: nil)
        let c = h.add(3, "c", ttl: nil)
        let zero = h.add(4, "zero", ttl: .zero)
        #expect(zero.lookUp, "a TTL of zero is unknown")
        h.run(until: Self.t0 + .milliseconds(500))
        #expect(h.sends.isEmpty)
        #expect(h.expired.isEmpty)
        let askedAt = Self.t0
        let unknown = h.machine.ttlLearned(1, generation: a.generation, remaining: nil, granted: .zero, askedAt: askedAt, now: h.now)
        h.record(unknown)
        #expect(h.expired.map(\.name) == ["a"])
        let learnedAt = h.now
        let known = h.machine.ttlLearned(2, generation: b.generation, remaining: .seconds(2), granted: .seconds(3), askedAt: askedAt, now: h.now)
        h.record(known)
        #expect(h.sends.map(\.id) == [2])
        #expect(h.machine.leases[2]?.ttl == .seconds(3))
        let failed = h.machine.ttlLookupFailed(3, generation: c.generation)
        #expect(failed == "c")
        #expect(h.machine.leases[3] == nil)
        // A stale generation changes nothing.
        let staleFailure = h.machine.ttlLookupFailed(2, generation: a.generation)
        #expect(staleFailure == nil)
        let staleAnswer = h.machine.ttlLearned(4, generation: b.generation, remaining: nil, granted: .zero, askedAt: askedAt, now: h.now)
        #expect(staleAnswer.isEmpty)
        h.machine.remove(4, generation: zero.generation)
        h.run(until: Self.t0 + .seconds(5))
        #expect(h.expired.map(\.name) == ["a", "b"])
        if let at = h.expired.last?.at {
            #expect(at >= askedAt + .seconds(2))
            #expect(at - askedAt <= .seconds(2) + Self.tick)
        }
        // Renewals of b at its interval (1 s) after the lookup: at most 2 before it expired.
        #expect(h.sends(of: 2, in: learnedAt..<h.now) <= 3)
    }

    @Test("close returns every subscriber and rejects later keepAlives; nothing is sent after it")
    func close() {
        var h = Harness()
        h.open()
        h.add(1, "a", ttl: .seconds(3))
        h.add(2, "b", ttl: nil)
        let closed = h.machine.close()
        #expect(Set(closed) == ["a", "b"])
        guard case .rejected = h.machine.add(3, subscriber: "c", ttl: .seconds(3), now: h.now) else {
            Issue.record("add after close was accepted")
            return
        }
        let later = h.machine.tick(now: h.now + .seconds(10))
        #expect(later.isEmpty)
        let reopened = h.machine.streamOpened(now: h.now)
        #expect(reopened.isEmpty)
    }
}
