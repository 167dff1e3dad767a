import CZooKeeper
import Foundation
import Logging


/// Owns one `zhandle_t*` and frees it exactly once (`close` or the client's `deinit`).
final class ZooKeeperHandle: @unchecked Sendable {
    // @unchecked: `pointer` is only used while `ZooKeeperConnection.handle`'s lock is held, or
    // by the single `zookeeper_close` after it was taken out of that slot.
    let pointer: OpaquePointer
    let context: Unmanaged<HandleContext>
    private let logger: Logger

    init(pointer: OpaquePointer, context: Unmanaged<HandleContext>, logger: Logger) {
        self.pointer = pointer
        self.context = context
        self.logger = logger
    }

    /// Call contexts retained for this handle's C client and not yet taken back by their
    /// completion: the calls sent on it that the C client has not completed yet.
    private let outstanding = Locked<[ObjectIdentifier: Unmanaged<AnyObject>]>([:])

    func adopt(_ box: AnyObject, _ context: Unmanaged<AnyObject>) {
        outstanding.withLock { $0[ObjectIdentifier(box)] = context }
    }

    func disown(_ box: AnyObject) {
        _ = outstanding.withLock { $0.removeValue(forKey: ObjectIdentifier(box)) }
    }

    private func releaseOutstanding() -> Int {
        let leftover = outstanding.withLock { o -> [Unmanaged<AnyObject>] in
            defer { o = [:] }
            return Array(o.values)
        }
        for context in leftover { context.release() }
        return leftover.count
    }

    /// How long `close()` waits for the calls already sent on a handle to be answered before
    /// it closes the handle (see ``closeOnThread()``).
    static let closeDrainTime: Duration = .seconds(1)

    /// Whether the C client's I/O thread has nothing under way that would queue a session event:
    /// no handshake awaiting the server's answer, and its last state change already delivered.
    /// (An event it queues while `zookeeper_close` runs is lost the same way as a call's
    /// completion.) While (re)connecting to a server that does not answer, nothing is queued.
    private var sessionSettled: Bool {
        let now = zoo_state(pointer)
        if now == czk_associating_state() { return false }
        if now == 0 || now == czk_connecting_state() || now == czk_notconnected_state() { return true }
        return now == context.takeUnretainedValue().deliveredState.withLock { $0 }
    }

    /// Waits, on the calling (blocking, non-pool) thread, until the C client has completed
    /// every call sent on this handle and its session state is settled, or `limit` has passed.
    /// Returns how many calls are left.
    private func waitForCompletions(upTo limit: Duration) -> Int {
        let deadline = ContinuousClock.now + limit
        while true {
            let left = outstanding.withLock { $0.count }
            if left == 0 && sessionSettled { return 0 }
            if ContinuousClock.now >= deadline { return left }
            usleep(1_000)
        }
    }

    /// How long the C client can keep a call unanswered before it gives up on the connection
    /// and completes the call with a connection loss: two thirds of the negotiated session
    /// timeout without a packet (or a connect attempt's timeout), plus a margin.
    private var connectionGiveUpTime: Duration {
        .milliseconds(max(Int(zoo_recv_timeout(pointer)), 1_000)) + .seconds(2)
    }

    /// `zookeeper_close` blocks (it flushes the close request), so it runs on its own thread,
    /// never on the cooperative pool. After it returns no callback of this handle runs, so its
    /// context is released then.
    ///
    /// The 3.8 C client loses the calls still in flight when `zookeeper_close` runs: it queues
    /// their `ZCLOSING` completions while its completion thread is already stopping, and never
    /// runs or frees them (ZOOKEEPER-2894, unfixed upstream) — about 320 bytes of the library's
    /// memory per call. So the handle is closed only once every call sent on it has been
    /// completed by the C client: `close()` waits up to ``closeDrainTime`` for the server's
    /// answers (milliseconds on a live connection). If the server does not answer (frozen,
    /// partitioned), `close()` returns then and the handle is closed in the background as soon
    /// as the C client has completed those calls — at the latest when it gives up on the
    /// connection (two thirds of the session timeout).
    func closeOnThread() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread { [self] in
                if waitForCompletions(upTo: Self.closeDrainTime) == 0 {
                    closeNow()
                    continuation.resume()
                } else {
                    continuation.resume()
                    closeWhenDrained(after: Self.closeDrainTime)
                }
            }.start()
        }
    }

    func closeDetached() {
        Thread { [self] in
            closeWhenDrained(after: .zero)
        }.start()
    }

    /// Closes the handle once the C client has completed every call sent on it, or when it
    /// should have given up on the connection (then the rest is lost, see ``closeNow()``).
    private func closeWhenDrained(after waited: Duration) {
        let start = ContinuousClock.now
        let left = waitForCompletions(upTo: connectionGiveUpTime)
        if waited > .zero {
            logger.debug("ZooKeeper calls unanswered at close were waited for in the background", metadata: [
                "zookeeper.waited_ms": "\((waited + (ContinuousClock.now - start)).milliseconds)",
                "zookeeper.unanswered": "\(left)",
            ])
        }
        closeNow()
    }

    private func closeNow() {
        let inFlight = outstanding.withLock { $0.count }
        zookeeper_close(pointer)
        let lost = releaseOutstanding()
        context.release()
        if inFlight > 0 {
            logger.warning("ZooKeeper handle closed with calls the server never answered: the C client drops them (ZOOKEEPER-2894)", metadata: [
                "zookeeper.unanswered": "\(inFlight)",
                "zookeeper.completions_lost": "\(lost)",
            ])
        } else {
            logger.debug("ZooKeeper handle closed", metadata: ["zookeeper.unanswered": "0"])
        }
    }
}

/// The C context of one handle: which connection, and which generation of its sessions, so
/// the events of a replaced (expired) handle are ignored.
final class HandleContext: Sendable {
    let connection: ZooKeeperConnection
    let generation: Int
    /// The last session state the C client's completion thread delivered to the global watcher.
    let deliveredState = Locked<Int32>(0)
    init(connection: ZooKeeperConnection, generation: Int) {
        self.connection = connection
        self.generation = generation
    }
}

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

/// The shared core of a `ZooKeeperClient`: the current C handle (replaced after session
/// expiry), in-flight calls, live watches and session listeners.
///
/// C callbacks only touch `state` (a lock) and start Tasks; C calls and continuation resumes
/// happen outside the lock. `handle` has its own lock, never taken by callbacks, and never
/// acquired while `state` is held.
final class ZooKeeperConnection: Sendable {
    let configuration: ZooKeeperClient.Configuration
    let logger: Logger
    private let logToken: Int
    private let logCallback: @convention(c) (UnsafePointer<CChar>?) -> Void
    private let handle = Locked<ZooKeeperHandle?>(nil)
    private let state = Locked(State())

    struct Subscription {
        let kind: WatchKind
        let path: String
        let continuation: AsyncThrowingStream<ZooKeeperWatchEvent, any Error>.Continuation
        var snapshot: WatchSnapshot?
        var running = false
        var again = false
    }

    struct State {
        var sessionState: ZooKeeperSessionState = .connecting
        var generation = 0
        var everConnected = false
        var closed = false
        var nextID = 1
        var pending: [Int: any PendingOperation] = [:]
        var sessionListeners: [Int: AsyncStream<ZooKeeperSessionState>.Continuation] = [:]
        var connectWaiters: [Int: CheckedContinuation<Void, any Error>] = [:]
        var subscriptions: [Int: Subscription] = [:]
        var addedAuth: [(scheme: String, credentials: [UInt8])] = []

        mutating func makeID() -> Int {
            defer { nextID += 1 }
            return nextID
        }
    }

    /// The one task that fails calls past their deadline (see `sweepDeadlines`).
    private let deadlineSweeper = Locked<Task<Void, Never>?>(nil)

    /// How often in-flight calls are checked against their deadlines: a timeout fires at most
    /// this much late.
    static let deadlineResolution: Duration = .milliseconds(50)

    init(configuration: ZooKeeperClient.Configuration) {
        self.configuration = configuration
        var logger = configuration.logger
        logger[metadataKey: "zookeeper"] = "\(Self.hostsOnly(configuration.connectString))"
        self.logger = logger
        (self.logToken, self.logCallback) = ZooKeeperLogBridge.register(logger)
    }

    private static func hostsOnly(_ connect: String) -> Substring {
        connect.split(separator: "/", maxSplits: 1).first ?? ""
    }

    // MARK: Connecting

    /// Opens the first session and waits until it is connected.
    static func connect(_ configuration: ZooKeeperClient.Configuration) async throws -> ZooKeeperConnection {
        try Validation.connectString(configuration.connectString)
        guard configuration.sessionTimeout > .zero, configuration.operationTimeout > .zero,
              configuration.connectTimeout > .zero else {
            throw ZooKeeperError.badArguments("sessionTimeout, connectTimeout and operationTimeout must be positive")
        }
        if let session = configuration.session, session.password.count != 16 {
            throw ZooKeeperError.badArguments("a session password is 16 bytes, got \(session.password.count) — pass ZooKeeperClient.session unchanged")
        }
        let connection = ZooKeeperConnection(configuration: configuration)
        connection.startDeadlineSweeper()
        do {
            _ = try connection.openHandle(resuming: configuration.session)
            try await connection.waitUntilConnected(timeout: configuration.connectTimeout)
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// Creates a C handle (a new session, or `resuming` one) and makes it current.
    /// Returns the handle it replaced, for the caller to close.
    private func openHandle(resuming session: ZooKeeperSession?) throws -> ZooKeeperHandle? {
        try handle.withLock { slot -> ZooKeeperHandle? in
            let generation: Int? = state.withLock { s in
                if s.closed { return nil }
                s.generation += 1
                if s.sessionState != .connecting {
                    s.sessionState = .connecting
                    // Yielded under the lock so it precedes the new handle's `connected`; a
                    // yield only enqueues, it runs no consumer code.
                    for listener in s.sessionListeners.values { listener.yield(.connecting) }
                }
                return s.generation
            }
            guard let generation else { throw ZooKeeperError.closed("connect", path: nil) }
            let context = Unmanaged.passRetained(HandleContext(connection: self, generation: generation))
            var clientID = clientid_t()
            if let session {
                clientID.client_id = session.id
                withUnsafeMutableBytes(of: &clientID.passwd) { buffer in
                    buffer.copyBytes(from: session.password.prefix(buffer.count))
                }
            }
            let timeout = Int32(clamping: configuration.sessionTimeout.milliseconds)
            let pointer = withUnsafePointer(to: &clientID) { clientIDPointer in
                zookeeper_init2(configuration.connectString, zooKeeperGlobalWatcher, timeout,
                                session == nil ? nil : clientIDPointer, context.toOpaque(),
                                configuration.allowReadOnly ? ZOO_READONLY : 0,
                                logCallback)
            }
            guard let pointer else {
                let code = errno
                context.release()
                throw ZooKeeperError(code: .systemError,
                                     message: "zookeeper_init failed for \"\(configuration.connectString)\": \(String(cString: strerror(code))) — check the host names")
            }
            _ = zoo_set_servers_resolution_delay(pointer, Int32(clamping: max(configuration.hostResolutionInterval.milliseconds, 0)))
            // Credentials are queued now and sent as soon as the session is connected; the C
            // client re-sends them after every reconnect of this session.
            let extra = state.withLock { $0.addedAuth }
            for (scheme, credentials) in configuration.authentication.map({ ($0.scheme, Array($0.credentials.utf8)) }) + extra {
                credentials.withUnsafeBufferPointer { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { chars in
                        _ = zoo_add_auth(pointer, scheme, chars.baseAddress, Int32(chars.count), nil, nil)
                    }
                }
            }
            let previous = slot
            slot = ZooKeeperHandle(pointer: pointer, context: context, logger: logger)
            logger.debug("ZooKeeper handle opened", metadata: ["generation": "\(generation)", "resuming": "\(session != nil)"])
            return previous
        }
    }

    private func waitUntilConnected(timeout: Duration) async throws {
        let id = state.withLock { $0.makeID() }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled, let self else { return }
            let waiter = self.state.withLock { $0.connectWaiters.removeValue(forKey: id) }
            waiter?.resume(throwing: ZooKeeperError(
                code: .connectionLoss,
                message: "no ZooKeeper session with \(Self.hostsOnly(self.configuration.connectString)) within \(timeout) — is ZooKeeper running and reachable? (scripts/start-stores.sh starts one)"))
        }
        defer { timer.cancel() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            // The handshake may already have ended before this waiter exists (an unknown session's
            // expiry answer from a local server can beat this task): a state reached before is
            // an outcome too, not something to wait for.
            let result: Result<Void, ZooKeeperError>? = state.withLock { s in
                if s.closed { return .failure(.closed("connect", path: nil)) }
                if let outcome = Self.connectOutcome(s.sessionState) { return outcome }
                s.connectWaiters[id] = continuation
                return nil
            }
            if let result { continuation.resume(with: result.mapError { $0 }) }
        }
    }

    /// What a session state means for `connect`: nil while still connecting.
    private static func connectOutcome(_ state: ZooKeeperSessionState) -> Result<Void, ZooKeeperError>? {
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

    // MARK: Session events (C completion thread)

    func sessionEvent(state cState: Int32, generation: Int) {
        let mapped: ZooKeeperSessionState
        switch cState {
        case czk_connected_state(): mapped = .connected
        case czk_readonly_state(): mapped = .connectedReadOnly
        case czk_expired_session_state(): mapped = .expired
        case czk_auth_failed_state(): mapped = .authFailed
        default: mapped = .connecting
        }
        var reopen = false
        var rearm: [Int] = []
        var finished: [AsyncThrowingStream<ZooKeeperWatchEvent, any Error>.Continuation] = []
        var waiters: [CheckedContinuation<Void, any Error>] = []
        let listeners: [AsyncStream<ZooKeeperSessionState>.Continuation]? = state.withLock { s in
            guard !s.closed, generation == s.generation, s.sessionState != mapped || mapped == .expired else { return nil }
            s.sessionState = mapped
            switch mapped {
            case .connected, .connectedReadOnly:
                s.everConnected = true
                waiters = Array(s.connectWaiters.values)
                s.connectWaiters = [:]
                // Re-read (and re-arm) every watch: after a new session its server-side watches
                // are gone, and after any reconnect a re-read costs little.
                for (id, var sub) in s.subscriptions {
                    if sub.running { sub.again = true } else { sub.running = true; rearm.append(id) }
                    s.subscriptions[id] = sub
                }
            case .expired:
                if s.everConnected && configuration.reopenExpiredSession {
                    reopen = true
                } else {
                    waiters = Array(s.connectWaiters.values)
                    s.connectWaiters = [:]
                    finished = s.subscriptions.values.map(\.continuation)
                    s.subscriptions = [:]
                }
            case .authFailed:
                waiters = Array(s.connectWaiters.values)
                s.connectWaiters = [:]
            default: break
            }
            return Array(s.sessionListeners.values)
        }
        guard let listeners else { return }
        logger.log(level: mapped == .connected ? .debug : .info, "ZooKeeper session \(mapped)")
        for listener in listeners { listener.yield(mapped) }
        if let outcome = Self.connectOutcome(mapped) {
            for waiter in waiters { waiter.resume(with: outcome.mapError { $0 }) }
        }
        let expired = ZooKeeperError(code: .sessionExpired, message: "the ZooKeeper session expired and reopenExpiredSession is false — close this client and connect a new one")
        for continuation in finished { continuation.finish(throwing: expired) }
        for id in rearm { startWatchRunner(id) }
        if reopen {
            Task { await self.reopenSession() }
        }
    }

    private func reopenSession() async {
        for attempt in 1... {
            do {
                let old = try openHandle(resuming: nil)
                logger.info("ZooKeeper session expired: opened a new session; ephemeral nodes of the old one are gone")
                await old?.closeOnThread()
                return
            } catch let error as ZooKeeperError where error.code == .closed {
                return
            } catch {
                logger.error("could not open a new ZooKeeper session (attempt \(attempt)): \(error)")
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    // MARK: Operations

    /// Runs one `zoo_a*` call: `start` gets the handle and the retained box to pass as the C
    /// completion's data. It runs under the handle lock, so it must only issue the call.
    func perform<Value: Sendable>(
        _ operation: String, path: String?, keepAlive: AnyObject? = nil,
        _ start: (OpaquePointer, UnsafeRawPointer) -> Int32
    ) async throws -> Value {
        let box: OperationBox<Value>? = state.withLock { s in
            if s.closed { return nil }
            let box = OperationBox<Value>(id: s.makeID(), operation: operation, path: path, connection: self, keepAlive: keepAlive)
            s.pending[box.id] = box
            return box
        }
        guard let box else { throw ZooKeeperError.closed(operation, path: path) }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                box.setContinuation(continuation)
                // Already ended (cancelled before it started, or closed): send nothing.
                if box.isFinished { return }
                let context = Unmanaged.passRetained(box)
                let rc: Int32? = handle.withLock { slot in
                    slot.map { owner in
                        // Adopted before the call: its completion may run before the call returns.
                        box.owner = owner
                        owner.adopt(box, Unmanaged<AnyObject>.fromOpaque(context.toOpaque()))
                        let rc = start(owner.pointer, UnsafeRawPointer(context.toOpaque()))
                        if rc != ZOK.rawValue { owner.disown(box) }
                        return rc
                    }
                }
                switch rc {
                case nil:
                    context.release()
                    box.fail(.closed(operation, path: path))
                case ZOK.rawValue:
                    box.startDeadline(configuration.operationTimeout)
                case ZINVALIDSTATE.rawValue:
                    // The C client refuses calls on an expired (or auth-failed) handle.
                    context.release()
                    let sessionState = state.withLock { $0.sessionState }
                    box.fail(ZooKeeperError(
                        code: sessionState == .authFailed ? .authFailed : .sessionExpired, path: path,
                        message: "\(operation)\(path.map { " " + $0 } ?? ""): the session is \(sessionState)"
                            + (configuration.reopenExpiredSession && sessionState != .authFailed ? "; a new session is being opened — retry" : " — close this client and connect a new one"),
                        returnCode: ZINVALIDSTATE.rawValue))
                case let rc?:
                    context.release()
                    box.fail(returnCode: rc)
                }
            }
        } onCancel: {
            box.fail(ZooKeeperError(code: .cancelled, path: path, message: "\(operation) was cancelled"))
        }
    }

    func operationFinished(_ id: Int) {
        _ = state.withLock { $0.pending.removeValue(forKey: id) }
    }

    func rememberAuth(scheme: String, credentials: [UInt8]) {
        state.withLock { $0.addedAuth.append((scheme, credentials)) }
    }

    var sessionState: ZooKeeperSessionState { state.withLock { $0.sessionState } }

    func withHandle<R: Sendable>(_ body: (OpaquePointer) -> R) -> R? {
        handle.withLock { slot in slot.map { body($0.pointer) } }
    }

    // MARK: Session listeners

    func addSessionListener(_ continuation: AsyncStream<ZooKeeperSessionState>.Continuation) {
        let id: Int? = state.withLock { s in
            if s.closed { return nil }
            let id = s.makeID()
            s.sessionListeners[id] = continuation
            continuation.yield(s.sessionState)
            return id
        }
        guard let id else {
            continuation.yield(.closed)
            continuation.finish()
            return
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.sessionListeners.removeValue(forKey: id) }
        }
    }

    // MARK: Watches

    func addSubscription(kind: WatchKind, path: String,
                         continuation: AsyncThrowingStream<ZooKeeperWatchEvent, any Error>.Continuation) {
        let id: Int? = state.withLock { s in
            if s.closed { return nil }
            let id = s.makeID()
            s.subscriptions[id] = Subscription(kind: kind, path: path, continuation: continuation, running: true)
            return id
        }
        guard let id else {
            continuation.finish()
            return
        }
        continuation.onTermination = { [weak self] _ in
            guard let self, self.state.withLock({ $0.subscriptions.removeValue(forKey: id) }) != nil else { return }
            // Off the caller's thread: termination can run on a C callback thread.
            Task { self.removeLocalWatch(path: path, id: id) }
        }
        startWatchRunner(id)
    }

    /// A one-shot C watch of subscription `id` fired.
    func watchFired(id: Int) {
        let start: Bool = state.withLock { s in
            guard var sub = s.subscriptions[id] else { return false }
            defer { s.subscriptions[id] = sub }
            if sub.running { sub.again = true; return false }
            sub.running = true
            return true
        }
        if start { startWatchRunner(id) }
    }

    private func startWatchRunner(_ id: Int) {
        Task { await self.runWatch(id) }
    }

    /// Re-reads the watched node with a new one-shot watch and emits what changed; repeats while
    /// events arrived meanwhile. One runner per subscription at a time.
    private func runWatch(_ id: Int) async {
        while true {
            guard let (kind, path) = state.withLock({ s in s.subscriptions[id].map { ($0.kind, $0.path) } }) else { return }
            let result: Result<WatchSnapshot, ZooKeeperError>
            do {
                result = .success(try await arm(kind, path: path, token: id))
            } catch let error as ZooKeeperError {
                result = .failure(error)
            } catch {
                result = .failure(ZooKeeperError(code: .unknown, path: path, message: "\(error)"))
            }
            enum Next { case stop, loop, retryLater }
            // Ended while this re-read was in flight: the re-read registered the watcher again.
            var removeAgain = false
            var emit: (AsyncThrowingStream<ZooKeeperWatchEvent, any Error>.Continuation, ZooKeeperWatchEvent)?
            var finish: (AsyncThrowingStream<ZooKeeperWatchEvent, any Error>.Continuation, ZooKeeperError?)?
            let next: Next = state.withLock { s in
                guard var sub = s.subscriptions[id] else { removeAgain = true; return .stop }
                switch result {
                case .success(let snapshot):
                    if let event = Self.event(path: path, from: sub.snapshot, to: snapshot) {
                        emit = (sub.continuation, event)
                    }
                    sub.snapshot = snapshot
                case .failure(let error):
                    switch error.code {
                    case .closed:
                        finish = (sub.continuation, nil)
                    case .connectionLoss, .operationTimeout, .sessionExpired, .sessionMoved, .closing, .throttled, .invalidState:
                        // Re-armed on the next `connected`; if still connected, soon.
                        if !sub.again, s.sessionState == .connected || s.sessionState == .connectedReadOnly {
                            s.subscriptions[id] = sub
                            return .retryLater
                        }
                    default:
                        finish = (sub.continuation, error)
                    }
                }
                if finish != nil {
                    s.subscriptions[id] = nil
                    return .stop
                }
                let again = sub.again
                sub.again = false
                sub.running = again
                s.subscriptions[id] = sub
                return again ? .loop : .stop
            }
            if let (continuation, event) = emit { continuation.yield(event) }
            if let (continuation, error) = finish {
                if let error { continuation.finish(throwing: error) } else { continuation.finish() }
            }
            if removeAgain { removeLocalWatch(path: path, id: id) }
            switch next {
            case .stop: return
            case .loop: continue
            case .retryLater: try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// Drops this subscription's registrations (watcher function + id) from the C client's
    /// watcher tables, leaving other subscriptions on the same path alone. `local` (no server
    /// round trip) because the server keeps one watch per path and session for all of them;
    /// its next notification finds no local watcher and is dropped. The synchronous call is
    /// used: with `local` it only edits the tables (the async variant with `local` would treat
    /// its completion data as a sync completion).
    private func removeLocalWatch(path: String, id: Int) {
        _ = withHandle { zh in
            zoo_remove_watches(zh, path, ZWATCHTYPE_ANY, zooKeeperWatchWatcher, UnsafeMutableRawPointer(bitPattern: id), 1)
        }
    }

    private static func event(path: String, from old: WatchSnapshot?, to new: WatchSnapshot) -> ZooKeeperWatchEvent? {
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

    /// Reads the node and leaves a one-shot watch (token `token`) on it.
    private func arm(_ kind: WatchKind, path: String, token: Int) async throws -> WatchSnapshot {
        for _ in 0..<5 {
            do {
                switch kind {
                case .data:
                    let (data, stat) = try await getData(path, watchToken: token)
                    return .data(data, stat)
                case .children:
                    let (children, stat) = try await getChildren(path, watchToken: token)
                    return .children(children.sorted(), stat)
                }
            } catch let error as ZooKeeperError where error.code == .noNode {
                // A missing node: watch for its creation instead.
                guard try await exists(path, watchToken: token) != nil else { return .missing }
                // Created in between: the exists watch is set; read it again.
            }
        }
        throw ZooKeeperError(code: .connectionLoss, path: path, message: "watch \(path): the node kept appearing and disappearing; retrying")
    }

    // MARK: Deadlines

    /// Starts the sweeper: every `deadlineResolution` it fails the calls whose deadline passed.
    /// It holds the connection only weakly and ends with `close()` (or the connection).
    private func startDeadlineSweeper() {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.deadlineResolution)
                guard let self, self.sweepDeadlines() else { return }
            }
        }
        deadlineSweeper.withLock { $0 = task }
    }

    /// Fails every in-flight call past its deadline; false once the connection is closed.
    private func sweepDeadlines() -> Bool {
        let pending: [any PendingOperation]? = state.withLock { s in
            s.closed ? nil : Array(s.pending.values)
        }
        guard let pending else { return false }
        let now = ContinuousClock.now
        for operation in pending { operation.expireIfDue(now) }
        return true
    }

    // MARK: Closing

    /// Ends everything in flight with `.closed`, finishes every stream, and closes the handle.
    func close() async {
        await shutdown()?.closeOnThread()
    }

    /// For `deinit`: the same, with the blocking `zookeeper_close` on a detached thread.
    func closeDetached() {
        shutdown()?.closeDetached()
    }

    private func shutdown() -> ZooKeeperHandle? {
        let taken = state.withLock { s -> State? in
            if s.closed { return nil }
            s.closed = true
            s.sessionState = .closed
            let taken = s
            s.pending = [:]
            s.sessionListeners = [:]
            s.connectWaiters = [:]
            s.subscriptions = [:]
            return taken
        }
        guard let taken else { return nil }
        deadlineSweeper.withLock { $0?.cancel() }
        let handle = handle.withLock { slot in
            defer { slot = nil }
            return slot
        }
        for operation in taken.pending.values {
            operation.fail(ZooKeeperError(code: .closed, message: "the client was closed while the call was in flight — it may or may not have been applied"))
        }
        for waiter in taken.connectWaiters.values { waiter.resume(throwing: ZooKeeperError.closed("connect", path: nil)) }
        for sub in taken.subscriptions.values { sub.continuation.finish() }
        for listener in taken.sessionListeners.values {
            listener.yield(.closed)
            listener.finish()
        }
        ZooKeeperLogBridge.unregister(logToken)
        logger.debug("ZooKeeper client closed")
        return handle
    }
}

/// The global watcher of every handle: session state changes. Its context is the handle's
/// retained `HandleContext`, valid until `zookeeper_close` has returned.
func zooKeeperGlobalWatcher(_ zh: OpaquePointer?, _ type: Int32, _ state: Int32,
                            _ path: UnsafePointer<CChar>?, _ context: UnsafeMutableRawPointer?) {
    guard type == czk_session_event(), let context else { return }
    let handleContext = Unmanaged<HandleContext>.fromOpaque(context).takeUnretainedValue()
    handleContext.deliveredState.withLock { $0 = state }
    // The C client takes any 40 bytes after the length prefix as the server's handshake answer.
    // A real server never negotiates a session timeout ≤ 0: such a "session" came from something
    // that is not ZooKeeper (or a corrupted answer), so it is not reported as connected.
    if state == czk_connected_state() || state == czk_readonly_state(), let zh, zoo_recv_timeout(zh) <= 0 {
        return
    }
    handleContext.connection.sessionEvent(state: state, generation: handleContext.generation)
}

/// The watcher of one watch registration: its context is the subscription id (not a pointer);
/// the connection is found through the handle's context.
func zooKeeperWatchWatcher(_ zh: OpaquePointer?, _ type: Int32, _ state: Int32,
                           _ path: UnsafePointer<CChar>?, _ context: UnsafeMutableRawPointer?) {
    // Session events are copied to every watcher; the global watcher handles them.
    guard type != czk_session_event(), let zh, let handleContext = zoo_get_context(zh) else { return }
    let connection = Unmanaged<HandleContext>.fromOpaque(handleContext).takeUnretainedValue().connection
    connection.watchFired(id: Int(bitPattern: context))
}
