/// Closing, in two pure parts: what `close()` ends at once (``ConnectionStateMachine/close()``),
/// and when a C handle taken out of use may be closed (``HandleCloseStateMachine``).

extension ConnectionStateMachine {
    /// Everything `close()` ends, taken out of the state in one step.
    struct CloseAction {
        /// Calls in flight: fail them with `.closed`.
        var operations: [Operation]
        /// `connect` waiters: fail them with `.closed`.
        var waiters: [Waiter]
        /// Session listeners: yield `.closed`, then finish.
        var listeners: [Listener]
        /// Waiting watch consumers: resume them with nil (the watch finished). Watches with an
        /// event still pending deliver it first, then finish.
        var consumers: [Consumer]
    }

    /// Closes the connection; nil when it already was (`close()` again does nothing).
    mutating func close() -> CloseAction? {
        guard let (listeners, waiters) = session.close() else { return nil }
        let operations = pending.sorted { $0.key < $1.key }.map(\.value)
        pending = [:]
        let consumers = watches.endAll(.finished).map(\.consumer)
        return CloseAction(operations: operations, waiters: waiters, listeners: listeners, consumers: consumers)
    }
}

/// When a C handle that is no longer used may be `zookeeper_close`d.
///
/// The 3.8 C client loses the calls still in flight when `zookeeper_close` runs (ZOOKEEPER-2894,
/// see `ZooKeeperHandle`), so a handle is closed only once the C client has completed every
/// call sent on it and has no session event under way. `close()` waits for that up to
/// `callerWait` (milliseconds on a live connection); after that the caller is released and the
/// handle is closed in the background when it has drained, or at the latest after `giveUp`
/// (when the C client should have given up on the connection), with what is left lost.
///
/// The closing thread feeds it what it sees (calls unanswered, whether the session is settled,
/// the time) and does what it says.
struct HandleCloseStateMachine: Sendable {
    enum Phase: Equatable, Sendable {
        /// `close()` is waiting, until the instant.
        case callerWaiting(until: ContinuousClock.Instant)
        /// Nobody waits; closed at the latest at the instant.
        case background(until: ContinuousClock.Instant)
        case closed
    }

    enum Step: Equatable, Sendable {
        /// Wait for a completion or a session event, at most until the instant (then check again).
        case wait(until: ContinuousClock.Instant)
        /// Release the caller of `close()` now; keep waiting in the background.
        case releaseCaller
        /// Call `zookeeper_close`: `unanswered` calls are lost. `releaseCaller`: the caller of
        /// `close()` is still waiting and is released after it.
        case close(unanswered: Int, releaseCaller: Bool)
        /// Already closed: nothing to do.
        case none
    }

    /// How long a wait lasts at most before the C client's state is looked at again: its
    /// I/O thread's own state changes (say, a handshake that failed) signal nothing.
    static let recheckInterval: Duration = .milliseconds(50)

    private(set) var phase: Phase
    private let giveUp: Duration

    /// - Parameters:
    ///   - callerWait: how long `close()` waits; nil when nobody does (a dropped client).
    ///   - giveUp: how long to wait in the background at most.
    init(now: ContinuousClock.Instant, callerWait: Duration?, giveUp: Duration) {
        self.giveUp = giveUp
        phase = callerWait.map { .callerWaiting(until: now + $0) } ?? .background(until: now + giveUp)
    }

    mutating func check(unanswered: Int, settled: Bool, now: ContinuousClock.Instant) -> Step {
        switch phase {
        case .closed:
            return .none
        case .callerWaiting(let until):
            if unanswered == 0 && settled {
                phase = .closed
                return .close(unanswered: 0, releaseCaller: true)
            }
            if now >= until {
                phase = .background(until: now + giveUp)
                return .releaseCaller
            }
            return .wait(until: min(until, now + Self.recheckInterval))
        case .background(let until):
            if unanswered == 0 && settled || now >= until {
                phase = .closed
                return .close(unanswered: unanswered, releaseCaller: false)
            }
            return .wait(until: min(until, now + Self.recheckInterval))
        }
    }
}
