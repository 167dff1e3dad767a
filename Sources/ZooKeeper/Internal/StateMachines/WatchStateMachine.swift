/// What a live watch re-arms: a node's data/existence, or its children.
enum WatchKind: Sendable {
    case data, children
}

/// The state of a node as last read by a watch.
enum WatchSnapshot: Equatable, Sendable {
    case missing
    case data([UInt8], ZooKeeperStat)
    case children([String], ZooKeeperStat)

    var stat: ZooKeeperStat? {
        switch self {
        case .missing: nil
        case .data(_, let s), .children(_, let s): s
        }
    }
}

/// The live watches (`ZooKeeperWatch` iterators) of one connection as a pure state machine.
///
/// Each subscription has a **runner** — at most one at a time — that re-reads the node with a
/// new one-shot watch whenever the server's watch fired, the session reconnected, or a re-read
/// failed and is retried; and a **consumer**, the iterator's `next()`. The two meet in one
/// slot per subscription:
///
/// - `read` is the node as last read, `delivered` the node as the consumer last saw it. The
///   next event is computed when the consumer asks for it, by comparing the two; so a consumer
///   that falls behind gets *one* event summing up everything since it last looked (the latest
///   state, its kind computed against the state it saw before), never a backlog. Memory per
///   watch is bounded by two snapshots of the node however slow the consumer is.
/// - A consumer that finds nothing new waits (`consumer`), and the runner's next read that
///   differs resumes it directly.
/// - An end (client closed, a read that cannot be retried, expiry without reopen) is delivered
///   after the pending event, as a finished `AsyncThrowingStream` would.
///
/// Generic over what a waiting consumer is (a continuation in the connection, an `Int` in the
/// table tests). Nothing here calls C, locks or resumes: the connection runs the actions.
struct WatchStateMachine<Consumer> {
    enum End: Sendable {
        case finished
        case failed(ZooKeeperError)

        var error: ZooKeeperError? {
            if case .failed(let error) = self { return error }
            return nil
        }
    }

    enum Runner: Equatable, Sendable {
        /// No runner: the next notification or reconnect starts one.
        case idle
        case running
        /// Running, and something happened meanwhile: read once more when this read is done.
        case runningAgain
    }

    struct Subscription {
        let kind: WatchKind
        let path: String
        var read: WatchSnapshot?
        var delivered: WatchSnapshot?
        var consumer: Consumer?
        var end: End?
        var runner: Runner = .running

        var isLive: Bool { end == nil }
    }

    private(set) var subscriptions: [Int: Subscription] = [:]

    // MARK: Runner

    /// Adds a subscription whose runner the caller starts now.
    mutating func add(id: Int, kind: WatchKind, path: String) {
        subscriptions[id] = Subscription(kind: kind, path: path)
    }

    /// What the runner of `id` reads next; nil when the watch ended (the runner stops).
    func target(of id: Int) -> (kind: WatchKind, path: String)? {
        guard let sub = subscriptions[id], sub.isLive else { return nil }
        return (sub.kind, sub.path)
    }

    /// The one-shot C watch of `id` fired. True when a runner must be started.
    mutating func watchFired(id: Int) -> Bool {
        guard var sub = subscriptions[id], sub.isLive else { return false }
        defer { subscriptions[id] = sub }
        switch sub.runner {
        case .idle:
            sub.runner = .running
            return true
        case .running, .runningAgain:
            sub.runner = .runningAgain
            return false
        }
    }

    /// The session (re)connected: every live watch is read again. Returns the ids whose runner
    /// must be started (the others are running and read once more).
    mutating func rearmAll() -> [Int] {
        var start: [Int] = []
        for (id, sub) in subscriptions where sub.isLive && watchFired(id: id) {
            start.append(id)
        }
        return start.sorted()
    }

    /// A consumer to resume, and with what: an event, `nil` (the watch finished) or an error.
    struct Resume {
        var consumer: Consumer
        var result: Result<ZooKeeperWatchEvent?, ZooKeeperError>
    }

    /// What the runner does after one read.
    struct Step {
        enum Next: Equatable, Sendable {
            case stop
            /// Read again now: something happened while this read was in flight.
            case loop
            /// The read failed in a way worth retrying while connected: sleep, then read again.
            case retryLater
        }
        var next: Next
        var resume: Resume?
        /// The watch was ended while the read was in flight: that read registered the C
        /// watcher again, which must be dropped.
        var removeLocalWatch = false
    }

    /// The runner of `id` finished one read (which left a new one-shot watch on success).
    /// `connected`: whether the session is connected now.
    mutating func watchCompleted(id: Int, _ result: Result<WatchSnapshot, ZooKeeperError>, connected: Bool) -> Step {
        guard var sub = subscriptions[id] else { return Step(next: .stop, removeLocalWatch: true) }
        guard sub.isLive else { return Step(next: .stop) }
        var step = Step(next: .stop)
        switch result {
        case .success(let snapshot):
            sub.read = snapshot
            if let consumer = sub.consumer, let event = Self.event(path: sub.path, from: sub.delivered, to: snapshot) {
                sub.delivered = snapshot
                sub.consumer = nil
                step.resume = Resume(consumer: consumer, result: .success(event))
            }
        case .failure(let error):
            switch error.code {
            case .closed:
                return end(id, sub, .finished)
            case .connectionLoss, .operationTimeout, .sessionExpired, .sessionMoved, .closing, .throttled, .invalidState:
                // Re-armed by the next `connected`; if still connected, soon.
                if sub.runner == .running && connected {
                    subscriptions[id] = sub
                    return Step(next: .retryLater)
                }
            default:
                return end(id, sub, .failed(error))
            }
        }
        if sub.runner == .runningAgain {
            sub.runner = .running
            step.next = .loop
        } else {
            sub.runner = .idle
        }
        subscriptions[id] = sub
        return step
    }

    /// Ends a live subscription: a waiting consumer (which has nothing pending, or it would not
    /// be waiting) gets the end now; otherwise it is kept until the consumer took what is pending.
    private mutating func end(_ id: Int, _ sub: Subscription, _ end: End) -> Step {
        var sub = sub
        if let consumer = sub.consumer {
            subscriptions[id] = nil
            return Step(next: .stop, resume: Resume(consumer: consumer, result: end.error.map { .failure($0) } ?? .success(nil)))
        }
        sub.end = end
        sub.runner = .idle
        subscriptions[id] = sub
        return Step(next: .stop)
    }

    // MARK: Consumer

    enum NextAction {
        case deliver(ZooKeeperWatchEvent)
        /// The watch is over: return nil (`nil` error) or throw.
        case end(ZooKeeperError?)
        /// Nothing new: the consumer was stored and is resumed by a later read or the end.
        case wait
    }

    /// The consumer of `id` asks for the next event.
    mutating func next(id: Int, _ consumer: Consumer) -> NextAction {
        guard var sub = subscriptions[id] else { return .end(nil) }
        if sub.consumer != nil {
            return .end(.badArguments("watch \(sub.path): next() was called while another next() of the same iterator was waiting", path: sub.path))
        }
        if let read = sub.read, let event = Self.event(path: sub.path, from: sub.delivered, to: read) {
            sub.delivered = read
            subscriptions[id] = sub
            return .deliver(event)
        }
        if let end = sub.end {
            subscriptions[id] = nil
            return .end(end.error)
        }
        sub.consumer = consumer
        subscriptions[id] = sub
        return .wait
    }

    /// The consumer ended the watch (cancelled, or the iterator was dropped): the waiting
    /// consumer to resume with nil, and whether the watch was live (its C watcher registration
    /// is then dropped). Nil when already gone.
    mutating func cancel(id: Int) -> (consumer: Consumer?, wasLive: Bool, path: String)? {
        guard let sub = subscriptions.removeValue(forKey: id) else { return nil }
        return (sub.consumer, sub.isLive, sub.path)
    }

    // MARK: Ending all

    /// Ends every live watch with `end` (nil: finished): the waiting consumers to resume.
    mutating func endAll(_ end: End) -> [Resume] {
        var resumes: [Resume] = []
        for (id, sub) in subscriptions.sorted(by: { $0.key < $1.key }) where sub.isLive {
            if let resume = self.end(id, sub, end).resume { resumes.append(resume) }
        }
        return resumes
    }

    // MARK: Events

    /// The event that takes a consumer from `old` (nil: it saw nothing yet) to `new`; nil when
    /// nothing it could see changed.
    static func event(path: String, from old: WatchSnapshot?, to new: WatchSnapshot) -> ZooKeeperWatchEvent? {
        func make(_ kind: ZooKeeperWatchEvent.Kind) -> ZooKeeperWatchEvent {
            switch new {
            case .missing: ZooKeeperWatchEvent(kind: kind, path: path, stat: nil)
            case .data(let data, let stat): ZooKeeperWatchEvent(kind: kind, path: path, stat: stat, data: data)
            case .children(let children, let stat): ZooKeeperWatchEvent(kind: kind, path: path, stat: stat, children: children)
            }
        }
        guard let old else { return make(.initial) }
        switch (old.stat, new.stat) {
        case (nil, nil): return nil
        case (nil, _?): return make(.created)
        case (_?, nil): return make(.deleted)
        case (let o?, let n?):
            if o.czxid != n.czxid { return make(.created) }
            switch (old, new) {
            case (.data, .data): return o.mzxid != n.mzxid ? make(.changed) : nil
            case (.children(let oc, _), .children(let nc, _)):
                return o.cversion != n.cversion || oc != nc ? make(.childrenChanged) : nil
            default: return make(.changed)
            }
        }
    }
}

extension WatchStateMachine: Sendable where Consumer: Sendable {}
extension WatchStateMachine.Subscription: Sendable where Consumer: Sendable {}
