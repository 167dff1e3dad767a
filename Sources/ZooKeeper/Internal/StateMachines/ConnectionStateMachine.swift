/// Everything `ZooKeeperConnection` keeps behind its one state lock, as a value: the session
/// (``SessionStateMachine``), the live watches (``WatchStateMachine``), the calls in flight and
/// the credentials added with `addAuth`. Its methods combine the parts into one action per
/// event; closing is in `ShutdownStateMachine.swift`.
///
/// Generic over the things it hands back (a call in flight, a session listener, a connect
/// waiter, a waiting watch consumer), so `ZooKeeperStateMachineTests` runs it without a server.
struct ConnectionStateMachine<Operation, Listener, Waiter, Consumer> {
    var session: SessionStateMachine<Listener, Waiter>
    var watches = WatchStateMachine<Consumer>()
    /// The calls in flight (emptied by `close()`).
    var pending: [Int: Operation] = [:]
    /// Credentials added with `addAuth`, re-added to every session opened after expiry.
    private(set) var addedAuth: [(scheme: String, credentials: [UInt8])] = []
    private var nextID = 1

    init(reopenExpiredSession: Bool) {
        session = SessionStateMachine(reopenExpiredSession: reopenExpiredSession)
    }

    var isClosed: Bool { session.isClosed }

    /// A new id for a call, a listener, a watch or a connect waiter.
    mutating func makeID() -> Int {
        defer { nextID += 1 }
        return nextID
    }

    // MARK: Calls

    /// Registers a call made by `make` with a new id; nil (and nothing made) when closed.
    mutating func startOperation(_ make: (Int) -> Operation) -> Operation? {
        guard !isClosed else { return nil }
        let id = makeID()
        let operation = make(id)
        pending[id] = operation
        return operation
    }

    mutating func operationFinished(id: Int) {
        pending[id] = nil
    }

    /// The calls in flight, for the deadline sweeper; nil when closed (the sweeper stops).
    var operationsInFlight: [Operation]? {
        isClosed ? nil : Array(pending.values)
    }

    mutating func rememberAuth(scheme: String, credentials: [UInt8]) {
        addedAuth.append((scheme, credentials))
    }

    // MARK: Session events

    struct SessionEventAction {
        var session: SessionStateMachine<Listener, Waiter>.EventAction
        /// Watch runners to start (the others already running read once more).
        var startRunners: [Int] = []
        /// Waiting watch consumers to resume (with `.sessionExpired`).
        var resumes: [WatchStateMachine<Consumer>.Resume] = []
    }

    /// A session event of the handle of `generation`: the session's action, with what it means
    /// for the live watches already applied to them. Nil when nothing changes.
    mutating func sessionEvent(_ state: ZooKeeperSessionState, generation: Int) -> SessionEventAction? {
        guard let action = session.sessionEvent(state, generation: generation) else { return nil }
        var combined = SessionEventAction(session: action)
        switch action.watches {
        case .none: break
        case .rearm: combined.startRunners = watches.rearmAll()
        case .fail: combined.resumes = watches.endAll(.failed(Self.expiredWithoutReopen))
        }
        return combined
    }

    static var expiredWithoutReopen: ZooKeeperError {
        ZooKeeperError(code: .sessionExpired, message: "the ZooKeeper session expired and reopenExpiredSession is false — close this client and connect a new one")
    }

    // MARK: Watches

    /// Adds a watch; false when closed (its iterator ends at once). The caller starts its runner.
    mutating func addSubscription(id: Int, kind: WatchKind, path: String) -> Bool {
        guard !isClosed else { return false }
        watches.add(id: id, kind: kind, path: path)
        return true
    }

    /// One read of a watch runner finished.
    mutating func watchCompleted(id: Int, _ result: Result<WatchSnapshot, ZooKeeperError>) -> WatchStateMachine<Consumer>.Step {
        watches.watchCompleted(id: id, result, connected: session.isConnected)
    }
}

extension ConnectionStateMachine: Sendable where Operation: Sendable, Listener: Sendable, Waiter: Sendable, Consumer: Sendable {}
