/// The protocol state of ``LeaseKeeper``: which leases are kept alive, when each renewal is due,
/// until when each lease is certainly alive, and how long to wait before re-opening the shared
/// LeaseKeepAlive stream. Pure: no locks, no clocks, no I/O. Every event takes the current
/// instant and returns what the caller must do — send renewals, yield events, finish sequences,
/// wait before re-opening. `Subscriber` is whatever the caller delivers events to (the keeper's
/// stream continuations; plain values in the unit tests).
///
/// The rules:
/// - **Deadline.** Every lease with a known TTL has a deadline: the instant until which it is
///   certainly alive on the server. It starts at the keepAlive call + TTL (or the TimeToLive
///   lookup's send + the remaining time it reported) and moves to *send of the answered renewal*
///   + TTL with each answer (etcd restarts the TTL when it receives the renewal, which is after
///   it was sent). The first ``tick(now:)`` at or after the deadline reports it expired — so
///   `.expired` comes at most one TTL + one tick after the last answered renewal or the
///   keepAlive call, whether or not the stream is open and whether or not anything is answered.
/// - **Renewals.** A lease is sent a renewal when the stream opens (at most one per open) and
///   then whenever its interval (TTL/3, at least 500 ms) has passed since its last send —
///   answered or not. With no answers that is at most 3 sends per TTL per lease, plus one per
///   stream (re)open; there is no faster resend of unanswered renewals (etcd issue #9911).
/// - **Re-open backoff.** Each end of the stream (or failure to connect) waits
///   `backoff × jitter` before re-opening, `jitter` uniform in 0.8…1.2 from the caller's random
///   source, then doubles `backoff` up to `maxBackoff`. It starts at, and is reset to,
///   `initialBackoff` by any answer on the stream: a re-opened stream that delivers a renewal
///   answer restarts the backoff. The first open waits nothing.
struct LeaseKeeperStateMachine<Subscriber> {
    typealias Instant = ContinuousClock.Instant

    /// The smallest renewal interval, whatever the TTL.
    static var minimumInterval: Duration { .milliseconds(500) }
    /// The jitter factor range of the re-open backoff.
    static var jitter: ClosedRange<Double> { 0.8...1.2 }

    /// The renewal interval of a lease with `ttl`: a third of it, at least ``minimumInterval``.
    static func interval(ttl: Duration) -> Duration {
        max(ttl / 3, minimumInterval)
    }

    struct Entry {
        var subscriber: Subscriber
        /// Tells this keepAlive's entry from a later keepAlive of the same lease.
        var generation: UInt64
        /// The lease's TTL; nil while it is being looked up.
        var ttl: Duration?
        /// Until when the lease is certainly alive; nil only while the TTL is being looked up
        /// (and no earlier keepAlive of the lease had one).
        var deadline: Instant?
        /// When the next renewal may be sent; nil: as soon as the stream is open.
        var nextSend: Instant?
        /// When each renewal sent on the current stream and not answered yet was sent, oldest
        /// first (one stream answers in order).
        var unanswered: [Instant] = []
    }

    /// What the caller does after an event, outside its lock, in this order.
    struct Actions {
        /// Send one LeaseKeepAliveRequest for each lease ID on the open stream.
        var send: [Int64] = []
        /// Yield `.renewed(ttl:)` to each.
        var renewed: [(subscriber: Subscriber, ttl: Duration)] = []
        /// Yield `.expired` to each, then finish it.
        var expired: [Subscriber] = []
        /// Finish each without an event (a later keepAlive of the same lease took over).
        var finished: [Subscriber] = []

        var isEmpty: Bool { send.isEmpty && renewed.isEmpty && expired.isEmpty && finished.isEmpty }
    }

    /// The result of ``add(_:subscriber:ttl:now:)``.
    enum AddResult {
        /// The keeper is closed: finish the subscriber with `.closed`.
        case rejected
        /// Kept alive as `generation`. With `lookUpTTL` the caller asks etcd for the TTL and
        /// reports the answer with ``ttlLearned(_:generation:remaining:granted:askedAt:now:)``
        /// or ``ttlLookupFailed(_:generation:)``.
        case added(generation: UInt64, lookUpTTL: Bool, Actions)
    }

    let initialBackoff: Duration
    let maxBackoff: Duration

    private(set) var leases: [Int64: Entry] = [:]
    private(set) var streamOpen = false
    private(set) var closed = false
    /// The pause before the next re-open, before jitter.
    private(set) var backoff: Duration
    private var generation: UInt64 = 0

    init(initialBackoff: Duration, maxBackoff: Duration) {
        self.initialBackoff = initialBackoff
        self.maxBackoff = max(maxBackoff, initialBackoff)
        self.backoff = initialBackoff
    }

    // MARK: Subscribers

    /// A keepAlive of lease `id` with `ttl` (nil or not positive: unknown, to be looked up).
    /// Replaces an earlier keepAlive of the same lease (finished without an event), keeping its
    /// deadline when that is earlier and its renewal schedule.
    mutating func add(_ id: Int64, subscriber: Subscriber, ttl: Duration?, now: Instant) -> AddResult {
        if closed { return .rejected }
        let ttl = ttl.flatMap { $0 > .zero ? $0 : nil }
        generation += 1
        var entry = Entry(subscriber: subscriber, generation: generation, ttl: ttl, deadline: ttl.map { now + $0 })
        var actions = Actions()
        if let old = leases[id] {
            actions.finished.append(old.subscriber)
            entry.deadline = Self.earlier(entry.deadline, old.deadline)
            entry.nextSend = old.nextSend
            entry.unanswered = old.unanswered
            if entry.ttl == nil { entry.ttl = old.ttl }
        }
        leases[id] = entry
        if entry.ttl != nil { sendIfDue(id, now: now, into: &actions) }
        return .added(generation: generation, lookUpTTL: entry.ttl == nil, actions)
    }

    /// The keepAlive `generation` of lease `id` ended (its sequence was dropped): stop renewing.
    mutating func remove(_ id: Int64, generation: UInt64) {
        if leases[id]?.generation == generation { leases[id] = nil }
    }

    /// etcd answered the TTL lookup of keepAlive `generation`, sent at `askedAt`: `remaining`
    /// nil (or not positive) when the lease does not exist or has expired.
    mutating func ttlLearned(_ id: Int64, generation: UInt64, remaining: Duration?, granted: Duration,
                             askedAt: Instant, now: Instant) -> Actions {
        var actions = Actions()
        guard var entry = leases[id], entry.generation == generation else { return actions }
        guard let remaining, remaining > .zero else {
            leases[id] = nil
            actions.expired.append(entry.subscriber)
            return actions
        }
        if entry.ttl == nil { entry.ttl = granted > .zero ? granted : remaining }
        entry.deadline = Self.earlier(entry.deadline, askedAt + remaining)
        leases[id] = entry
        sendIfDue(id, now: now, into: &actions)
        return actions
    }

    /// The TTL lookup of keepAlive `generation` failed for good: returns the subscriber to
    /// finish with that error (nil when it is no longer kept alive).
    mutating func ttlLookupFailed(_ id: Int64, generation: UInt64) -> Subscriber? {
        guard let entry = leases[id], entry.generation == generation else { return nil }
        leases[id] = nil
        return entry.subscriber
    }

    /// The client is closing: returns every subscriber, to finish with `.closed`.
    mutating func close() -> [Subscriber] {
        closed = true
        streamOpen = false
        defer { leases = [:] }
        return leases.values.map(\.subscriber)
    }

    // MARK: The stream

    /// A LeaseKeepAlive stream was opened: every lease with a known TTL is renewed at once.
    mutating func streamOpened(now: Instant) -> Actions {
        var actions = Actions()
        guard !closed else { return actions }
        streamOpen = true
        for id in leases.keys {
            leases[id]?.unanswered = []
            leases[id]?.nextSend = nil
            sendIfDue(id, now: now, into: &actions)
        }
        return actions
    }

    /// The stream ended, or no connection could be had: returns how long to wait before opening
    /// the next one (`backoff` × a jitter factor in 0.8…1.2 drawn from `random`) and doubles
    /// the backoff up to `maxBackoff`.
    mutating func streamEnded<R: RandomNumberGenerator>(now: Instant, using random: inout R) -> Duration {
        streamOpen = false
        for id in leases.keys { leases[id]?.unanswered = [] }
        let delay = backoff * Double.random(in: Self.jitter, using: &random)
        backoff = min(backoff * 2, maxBackoff)
        return delay
    }

    /// etcd answered a renewal of lease `id` on the open stream with `ttl` (not positive: the
    /// lease is gone). Any answer resets the re-open backoff.
    mutating func answered(_ id: Int64, ttl: Duration, now: Instant) -> Actions {
        var actions = Actions()
        guard streamOpen else { return actions }
        backoff = initialBackoff
        guard var entry = leases[id] else { return actions }
        guard ttl > .zero else {
            leases[id] = nil
            actions.expired.append(entry.subscriber)
            return actions
        }
        // The oldest unanswered renewal is the one answered; without one (a renewal sent by a
        // keepAlive of the lease that was dropped since), the answer's arrival bounds it.
        let sent = entry.unanswered.isEmpty ? now : entry.unanswered.removeFirst()
        if entry.ttl != ttl, let last = entry.nextSend, let oldTTL = entry.ttl {
            entry.nextSend = last - Self.interval(ttl: oldTTL) + Self.interval(ttl: ttl)
        }
        entry.ttl = ttl
        entry.deadline = sent + ttl
        leases[id] = entry
        actions.renewed.append((entry.subscriber, ttl))
        return actions
    }

    /// Time passed: reports the leases whose deadline has come, then sends the renewals that are
    /// due (when the stream is open).
    mutating func tick(now: Instant) -> Actions {
        var actions = Actions()
        for (id, entry) in leases {
            if let deadline = entry.deadline, deadline <= now {
                leases[id] = nil
                actions.expired.append(entry.subscriber)
            }
        }
        for id in leases.keys { sendIfDue(id, now: now, into: &actions) }
        return actions
    }

    // MARK: Helpers

    /// Records and returns a renewal of `id` when the stream is open, its TTL is known, its
    /// deadline has not passed and its interval has passed since its last send on this stream.
    private mutating func sendIfDue(_ id: Int64, now: Instant, into actions: inout Actions) {
        guard streamOpen, var entry = leases[id], let ttl = entry.ttl else { return }
        if let next = entry.nextSend, next > now { return }
        // Past its deadline it is reported expired by the next tick, not renewed.
        if let deadline = entry.deadline, deadline <= now { return }
        entry.unanswered.append(now)
        entry.nextSend = now + Self.interval(ttl: ttl)
        leases[id] = entry
        actions.send.append(id)
    }

    private static func earlier(_ a: Instant?, _ b: Instant?) -> Instant? {
        switch (a, b) {
        case (nil, nil): return nil
        case (let a?, nil): return a
        case (nil, let b?): return b
        case (let a?, let b?): return min(a, b)
        }
    }
}

extension LeaseKeeperStateMachine: Sendable where Subscriber: Sendable {}
extension LeaseKeeperStateMachine.Entry: Sendable where Subscriber: Sendable {}
extension LeaseKeeperStateMachine.Actions: Sendable where Subscriber: Sendable {}
extension LeaseKeeperStateMachine.AddResult: Sendable where Subscriber: Sendable {}
