import CZooKeeper
import Foundation
import Logging
import NIOConcurrencyHelpers
#if DistributedTracingSupport
import Tracing
#endif


/// The shared core of a `ZooKeeperClient`: the current C handle (replaced after session
/// expiry) and, in one lock, a ``ConnectionStateMachine`` — the session, calls in flight, live
/// watches, session listeners.
///
/// Every event (a C callback, a call, a watch consumer, `close()`) is one step of the state
/// machine under `state`'s lock, which returns an action; the action — resuming continuations,
/// yielding to streams, C calls, starting jobs — is run after the lock is released. `handle`
/// has its own lock, never taken by C callbacks, and never acquired while `state` is held.
/// Background jobs run in `background`, which `close()` ends.
final class ZooKeeperConnection: Sendable {
    typealias Machine = ConnectionStateMachine<
        any PendingOperation,
        AsyncStream<ZooKeeperSessionState>.Continuation,
        CheckedContinuation<Void, any Error>,
        CheckedContinuation<ZooKeeperWatchEvent?, any Error>>

    let configuration: ZooKeeperClient.Configuration
    let metrics: ZooKeeperMetrics
    #if DistributedTracingSupport
    let tracer: any Tracer
    #endif
    let logger: Logger
    private let handle = NIOLockedValueBox<ZooKeeperHandle?>(nil)
    private let state: NIOLockedValueBox<Machine>
    private let background = BackgroundWork()

    /// How often in-flight calls (and `connect`) are checked against their deadlines: a timeout
    /// fires at most this much late.
    static let deadlineResolution: Duration = .milliseconds(50)

    /// How long a watch whose re-read failed while connected waits before reading again.
    static let watchRetryPause: Duration = .milliseconds(500)

    init(configuration: ZooKeeperClient.Configuration) {
        self.configuration = configuration
        self.metrics = ZooKeeperMetrics(factory: configuration.metricsFactory)
        #if DistributedTracingSupport
        self.tracer = configuration.tracer ?? InstrumentationSystem.tracer
        #endif
        var logger = configuration.logger
        logger[metadataKey: "zookeeper.servers"] = "\(Self.hostsOnly(configuration.connectString))"
        self.logger = logger
        state = NIOLockedValueBox(Machine(reopenExpiredSession: configuration.reopenExpiredSession))
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
            try await connection.waitUntilConnected()
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// Creates a C handle (a new session, or `resuming` one) and makes it current.
    /// Returns the handle it replaced, for the caller to close.
    private func openHandle(resuming session: ZooKeeperSession?) throws -> ZooKeeperHandle? {
        try handle.withLockedValue { slot -> ZooKeeperHandle? in
            let opening = state.withLockedValue { s -> (generation: Int, auth: [(scheme: String, credentials: [UInt8])])? in
                guard let (generation, announce) = s.session.openingHandle() else { return nil }
                // Yielded under the lock so it precedes the new handle's `connected`; a yield
                // only enqueues, it runs no consumer code.
                for listener in announce { listener.yield(.connecting) }
                return (generation, s.addedAuth)
            }
            guard let opening else { throw ZooKeeperError.closed("connect", path: nil) }
            let authentication = configuration.authentication.map { ($0.scheme, Array($0.credentials.utf8)) } + opening.auth
            let opened = try ZooKeeperHandle.open(
                configuration, resuming: session,
                context: HandleContext(connection: self, generation: opening.generation),
                authentication: authentication, logger: logger)
            let previous = slot
            slot = opened
            logger.debug("ZooKeeper handle opened", metadata: ["zookeeper.generation": "\(opening.generation)", "zookeeper.resuming": "\(session != nil)"])
            return previous
        }
    }

    /// Waits for the first session until `connectTimeout` (checked by the deadline sweeper);
    /// cancelling the calling task ends the wait with `.cancelled`.
    private func waitUntilConnected() async throws {
        let id = state.withLockedValue { $0.makeID() }
        let deadline = ContinuousClock.now + configuration.connectTimeout
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let result = state.withLockedValue { $0.session.addConnectWaiter(id: id, continuation, deadline: deadline) }
                if let result {
                    continuation.resume(with: result.mapError { $0 })
                } else if Task.isCancelled {
                    // Cancelled before the waiter was stored: the handler found nothing to end.
                    connectCancelled(id)
                }
            }
        } onCancel: {
            connectCancelled(id)
        }
    }

    private func connectCancelled(_ id: Int) {
        let waiter = state.withLockedValue { $0.session.removeConnectWaiter(id: id) }
        waiter?.resume(throwing: ZooKeeperError(code: .cancelled, message: "connect was cancelled before a session with \(Self.hostsOnly(configuration.connectString)) was established"))
    }

    private var connectTimedOut: ZooKeeperError {
        // The C client only logs why its connects fail; the bridge keeps the last such reason.
        let cause = handle.withLockedValue { $0?.lastSocketError }.map { " (last attempt: \($0))" } ?? ""
        return ZooKeeperError(
            code: .connectionLoss,
            message: "no ZooKeeper session with \(Self.hostsOnly(configuration.connectString)) within \(configuration.connectTimeout)\(cause) — is ZooKeeper running there, and is the address right?")
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
        guard let action = state.withLockedValue({ $0.sessionEvent(mapped, generation: generation) }) else { return }
        logger.log(level: mapped == .connected ? .debug : .info, "ZooKeeper session \(mapped)")
        for listener in action.session.listeners { listener.yield(mapped) }
        if let outcome = action.session.outcome {
            for waiter in action.session.waiters { waiter.resume(with: outcome.mapError { $0 }) }
        }
        for resume in action.resumes { resume.consumer.resume(with: resume.result.mapError { $0 }) }
        for id in action.startRunners { startWatchRunner(id) }
        if action.session.reopen {
            background.run { await self.reopenSession() }
        }
    }

    private func reopenSession() async {
        for attempt in 1... {
            do {
                let old = try openHandle(resuming: nil)
                logger.info("ZooKeeper session expired: opened a new session; ephemeral nodes of the old one are gone")
                old?.closeDetached()
                return
            } catch let error as ZooKeeperError where error.code == .closed {
                return
            } catch {
                logger.error("could not open a new ZooKeeper session (attempt \(attempt)): \(error)")
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { return }
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
        var started: OperationBox<Value>?
        #if DistributedTracingSupport
        let span = ZooKeeperTracing.start(operation, path: path, tracer: tracer, server: { self.connectedServer })
        #endif
        state.withLockedValue { s in
            _ = s.startOperation { id in
                #if DistributedTracingSupport
                let box = OperationBox<Value>(id: id, operation: operation, path: path, connection: self, keepAlive: keepAlive, span: span)
                #else
                let box = OperationBox<Value>(id: id, operation: operation, path: path, connection: self, keepAlive: keepAlive)
                #endif
                started = box
                return box
            }
        }
        guard let box = started else {
            let error = ZooKeeperError.closed(operation, path: path)
            #if DistributedTracingSupport
            ZooKeeperTracing.end(span, error: error)
            #endif
            throw error
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                box.setContinuation(continuation)
                // Already ended (cancelled before it started, or closed): send nothing.
                if box.isFinished { return }
                let context = Unmanaged.passRetained(box)
                let rc: Int32? = handle.withLockedValue { slot in
                    slot.map { owner in
                        // Adopted before the call: its completion may run before the call returns.
                        box.owner = owner
                        owner.adopt(box)
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
                    let sessionState = self.sessionState
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
        state.withLockedValue { $0.operationFinished(id: id) }
    }

    func rememberAuth(scheme: String, credentials: [UInt8]) {
        state.withLockedValue { $0.rememberAuth(scheme: scheme, credentials: credentials) }
    }

    var sessionState: ZooKeeperSessionState { state.withLockedValue { $0.session.state } }

    func withHandle<R: Sendable>(_ body: (OpaquePointer) -> R) -> R? {
        handle.withLockedValue { slot in slot.map { body($0.pointer) } }
    }

    /// The `host:port` of the server the handle is connected to, or nil when not connected.
    var connectedServer: String? {
        withHandle { zh -> String? in
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            return withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address -> String? in
                    guard zookeeper_get_connected_host(zh, address, &length) != nil else { return nil }
                    var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                    var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
                    guard getnameinfo(address, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
                                      NI_NUMERICHOST | NI_NUMERICSERV) == 0 else { return nil }
                    let name = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    let port = String(decoding: service.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    return (name.contains(":") ? "[\(name)]" : name) + ":" + port
                }
            }
        } ?? nil
    }

    // MARK: Session listeners

    func addSessionListener(_ continuation: AsyncStream<ZooKeeperSessionState>.Continuation) {
        let id: Int? = state.withLockedValue { s in
            let id = s.makeID()
            guard let current = s.session.addListener(id: id, continuation) else { return nil }
            continuation.yield(current)
            return id
        }
        guard let id else {
            continuation.yield(.closed)
            continuation.finish()
            return
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLockedValue { $0.session.removeListener(id: id) }
        }
    }

    // MARK: Watches

    /// Adds a watch and starts reading it; nil when closed.
    func addSubscription(kind: WatchKind, path: String) -> Int? {
        let id: Int? = state.withLockedValue { s in
            let id = s.makeID()
            return s.addSubscription(id: id, kind: kind, path: path) ? id : nil
        }
        if let id { startWatchRunner(id) }
        return id
    }

    /// The next event of watch `id`: nil once it finished. Cancelling the calling task ends the
    /// watch (the iteration returns nil), as ending an `AsyncStream` iteration does.
    func nextWatchEvent(_ id: Int) async throws -> ZooKeeperWatchEvent? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ZooKeeperWatchEvent?, any Error>) in
                switch state.withLockedValue({ $0.watches.next(id: id, continuation) }) {
                case .deliver(let event): continuation.resume(returning: event)
                case .end(nil): continuation.resume(returning: nil)
                case .end(let error?): continuation.resume(throwing: error)
                case .wait: break
                }
            }
        } onCancel: {
            endSubscription(id)
        }
    }

    /// The consumer of watch `id` is gone (cancelled, or its iterator was dropped).
    func endSubscription(_ id: Int) {
        guard let ended = state.withLockedValue({ $0.watches.cancel(id: id) }) else { return }
        ended.consumer?.resume(returning: nil)
        if ended.wasLive { removeLocalWatch(path: ended.path, id: id) }
    }

    /// A one-shot C watch of subscription `id` fired (C completion thread).
    func watchFired(id: Int) {
        if state.withLockedValue({ $0.watches.watchFired(id: id) }) { startWatchRunner(id) }
    }

    private func startWatchRunner(_ id: Int) {
        background.run { await self.runWatch(id) }
    }

    /// Re-reads the watched node with a new one-shot watch and hands the result to the state
    /// machine; repeats while events arrived meanwhile. One runner per subscription at a time.
    private func runWatch(_ id: Int) async {
        while let (kind, path) = state.withLockedValue({ $0.watches.target(of: id) }) {
            let result: Result<WatchSnapshot, ZooKeeperError>
            do {
                result = .success(try await arm(kind, path: path, token: id))
            } catch let error as ZooKeeperError {
                result = .failure(error)
            } catch {
                result = .failure(ZooKeeperError(code: .unknown, path: path, message: "\(error)"))
            }
            let step = state.withLockedValue { $0.watchCompleted(id: id, result) }
            if let resume = step.resume { resume.consumer.resume(with: resume.result.mapError { $0 }) }
            if step.removeLocalWatch { removeLocalWatch(path: path, id: id) }
            switch step.next {
            case .stop: return
            case .loop: continue
            case .retryLater: try? await Task.sleep(for: Self.watchRetryPause)
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
            zoo_remove_watches(zh, path, ZWATCHTYPE_ANY, ZooKeeperCallbacks.watchWatcher, UnsafeMutableRawPointer(bitPattern: id), 1)
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

    /// Starts the sweeper: every `deadlineResolution` it fails the calls (and the `connect`)
    /// whose deadline passed. It holds the connection only weakly and ends with `close()`.
    private func startDeadlineSweeper() {
        background.run { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.deadlineResolution)
                guard let self, self.sweepDeadlines() else { return }
            }
        }
    }

    /// Fails every in-flight call and connect waiter past its deadline; false once closed.
    private func sweepDeadlines() -> Bool {
        let now = ContinuousClock.now
        let due = state.withLockedValue { s -> (operations: [any PendingOperation], waiters: [CheckedContinuation<Void, any Error>])? in
            guard let operations = s.operationsInFlight else { return nil }
            return (operations, s.session.expireConnectWaiters(now: now))
        }
        guard let due else { return false }
        for operation in due.operations { operation.expireIfDue(now) }
        if !due.waiters.isEmpty {
            let error = connectTimedOut
            for waiter in due.waiters { waiter.resume(throwing: error) }
        }
        return true
    }

    // MARK: Closing

    /// Ends everything in flight with `.closed`, finishes every stream, ends the background
    /// jobs, and closes the handle.
    func close() async {
        guard let closed = shutdown() else { return }
        await background.shutdown()
        await closed.handle?.closeOnThread()
    }

    /// For `deinit`: the same, without waiting; the blocking `zookeeper_close` on a thread.
    func closeDetached() {
        guard let closed = shutdown() else { return }
        background.shutdownDetached()
        closed.handle?.closeDetached()
    }

    /// Runs the close action; nil when already closed.
    private struct Closed {
        /// The handle to close, if one was open.
        var handle: ZooKeeperHandle?
    }

    private func shutdown() -> Closed? {
        guard let action = state.withLockedValue({ $0.close() }) else { return nil }
        let handle = handle.withLockedValue { slot in
            defer { slot = nil }
            return slot
        }
        for operation in action.operations {
            operation.fail(ZooKeeperError(code: .closed, message: "the client was closed while the call was in flight — it may or may not have been applied"))
        }
        for waiter in action.waiters { waiter.resume(throwing: ZooKeeperError.closed("connect", path: nil)) }
        for consumer in action.consumers { consumer.resume(returning: nil) }
        for listener in action.listeners {
            listener.yield(.closed)
            listener.finish()
        }
        logger.debug("ZooKeeper client closed")
        return Closed(handle: handle)
    }
}
