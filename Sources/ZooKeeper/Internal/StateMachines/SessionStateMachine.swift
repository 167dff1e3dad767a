/// The session of one `ZooKeeperConnection` as a pure state machine: the C client's session
/// events, the opening of each new handle and the waiters of `connect` go in; what to tell whom
/// comes out as an action. Nothing here calls C, takes a lock or resumes anything: the
/// connection holds it in its lock and runs the actions after releasing it.
///
/// Generic over what a session listener and a connect waiter are, so the table tests in
/// `ZooKeeperStateMachineTests` run it with plain values and no server.
struct SessionStateMachine<Listener, Waiter> {
    /// The state reported to users (`sessionState`, `sessionEvents`).
    private(set) var state: ZooKeeperSessionState = .connecting
    /// The generation of the current C handle: a new one is opened after expiry, and the events
    /// of a replaced handle are ignored.
    private(set) var generation = 0
    /// Whether any session of this connection was ever connected: an expiry before that is the
    /// answer to `Configuration.session` (resuming an unknown session), not something to reopen.
    private var everConnected = false
    let reopenExpiredSession: Bool
    private var listeners: [Int: Listener] = [:]
    private var waiters: [Int: (waiter: Waiter, deadline: ContinuousClock.Instant)] = [:]

    init(reopenExpiredSession: Bool) {
        self.reopenExpiredSession = reopenExpiredSession
    }

    var isClosed: Bool { state == .closed }
    var isConnected: Bool { state == .connected || state == .connectedReadOnly }

    // MARK: Handles

    /// A new C handle is about to be opened: its events carry the returned generation.
    /// `announce` are the listeners to tell `.connecting` (when the state was something else),
    /// before the new handle can report anything. Nil when closed.
    mutating func openingHandle() -> (generation: Int, announce: [Listener])? {
        guard !isClosed else { return nil }
        generation += 1
        guard state != .connecting else { return (generation, []) }
        state = .connecting
        return (generation, Array(listeners.values))
    }

    // MARK: Session events

    /// What a session event means for live watches.
    enum WatchEffect: Equatable, Sendable {
        case none
        /// Re-read (and re-arm) every live watch: after a new session its server-side watches
        /// are gone, and after any reconnect a re-read costs little.
        case rearm
        /// End every live watch with `.sessionExpired` (expired, and not reopened).
        case fail
    }

    struct EventAction {
        /// The new state: logged and yielded to `listeners`.
        var state: ZooKeeperSessionState
        var listeners: [Listener]
        /// `connect` waiters to resume with `outcome`.
        var waiters: [Waiter]
        var outcome: Result<Void, ZooKeeperError>?
        var watches: WatchEffect
        /// Open a new session (the current one expired after having been connected).
        var reopen: Bool
    }

    /// The C client reported `new` for the handle of `generation`. Nil when nothing changes:
    /// closed, a replaced handle's event, or the state it already has (an expiry is reported
    /// every time: each one is a lost session).
    mutating func sessionEvent(_ new: ZooKeeperSessionState, generation: Int) -> EventAction? {
        guard !isClosed, new != .closed, generation == self.generation, state != new || new == .expired else { return nil }
        state = new
        var action = EventAction(state: new, listeners: Array(listeners.values), waiters: [],
                                 outcome: Self.connectOutcome(new), watches: .none, reopen: false)
        switch new {
        case .connected, .connectedReadOnly:
            everConnected = true
            action.waiters = takeWaiters()
            action.watches = .rearm
        case .expired:
            if everConnected && reopenExpiredSession {
                action.reopen = true
            } else {
                action.waiters = takeWaiters()
                action.watches = .fail
            }
        case .authFailed:
            action.waiters = takeWaiters()
        case .connecting, .closed:
            break
        }
        return action
    }

    private mutating func takeWaiters() -> [Waiter] {
        defer { waiters = [:] }
        return waiters.values.map(\.waiter)
    }

    /// What a session state means for `connect`: nil while still connecting.
    static func connectOutcome(_ state: ZooKeeperSessionState) -> Result<Void, ZooKeeperError>? {
        switch state {
        case .connecting: nil
        case .connected, .connectedReadOnly: .success(())
        case .authFailed:
            .failure(ZooKeeperError(code: .authFailed, message: "ZooKeeper rejected the credentials of Configuration.authentication — check the scheme and credentials"))
        case .expired:
            .failure(ZooKeeperError(code: .sessionExpired, message: "the session to resume (Configuration.session) has expired or is unknown — connect without it to open a new one"))
        case .closed: .failure(.closed("connect", path: nil))
        }
    }

    // MARK: Connect waiters

    /// `connect` waits for the first session until `deadline`. Returns the outcome at once when
    /// the handshake already ended (an unknown session's expiry answer from a local server can
    /// beat the waiter), or nil when `waiter` was stored.
    mutating func addConnectWaiter(id: Int, _ waiter: Waiter, deadline: ContinuousClock.Instant) -> Result<Void, ZooKeeperError>? {
        if let outcome = Self.connectOutcome(state) { return outcome }
        waiters[id] = (waiter, deadline)
        return nil
    }

    /// The waiter of a cancelled `connect`, if it is still waiting.
    mutating func removeConnectWaiter(id: Int) -> Waiter? {
        waiters.removeValue(forKey: id)?.waiter
    }

    /// The waiters whose deadline is at or before `now`, removed.
    mutating func expireConnectWaiters(now: ContinuousClock.Instant) -> [Waiter] {
        let due = waiters.filter { $0.value.deadline <= now }
        for id in due.keys { waiters[id] = nil }
        return due.values.map(\.waiter)
    }

    // MARK: Listeners

    /// Adds a listener; returns the state to yield to it first, or nil when closed.
    mutating func addListener(id: Int, _ listener: Listener) -> ZooKeeperSessionState? {
        guard !isClosed else { return nil }
        listeners[id] = listener
        return state
    }

    mutating func removeListener(id: Int) {
        listeners[id] = nil
    }

    // MARK: Closing

    /// Closes the session: the listeners to tell `.closed` and finish, and the waiters to fail.
    /// Nil when already closed.
    mutating func close() -> (listeners: [Listener], waiters: [Waiter])? {
        guard !isClosed else { return nil }
        state = .closed
        defer { listeners = [:] }
        return (Array(listeners.values), takeWaiters())
    }
}

extension SessionStateMachine: Sendable where Listener: Sendable, Waiter: Sendable {}
