import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
#if DistributedTracingSupport
import Tracing
#endif

/// The client's connection manager: one HTTP/2 connection at a time to the current endpoint,
/// moving to the next endpoint when a connection fails or the member is unavailable, with
/// retries (reads always, writes only when the server cannot have applied them) and
/// authentication (the token is per member, so each new connection authenticates).
final class GRPCTransport: Sendable {
    let configuration: EtcdClient.Configuration
    private let metricsFactory: any MetricsFactory
    #if DistributedTracingSupport
    private let tracer: any Tracer
    #endif
    /// The one event loop of every connection (taken from the configured group once), so that
    /// ``EtcdClient/taskExecutor`` stays the connection's loop across reconnects.
    let eventLoop: any EventLoop
    let sslContext: NIOSSLContext?
    let logger: Logger

    private struct State {
        var endpoints: [EtcdEndpoint]
        var index = 0
        var connection: GRPCConnection?
        var connecting: EventLoopFuture<GRPCConnection>?
        var closed = false
    }
    private let state: NIOLockedValueBox<State>

    init(configuration: EtcdClient.Configuration) throws {
        guard !configuration.endpoints.isEmpty else {
            throw EtcdError.invalidArgument("no etcd endpoints configured — pass e.g. [\"http://127.0.0.1:2379\"]")
        }
        let endpoints = try configuration.endpoints.map { try EtcdEndpoint.parse($0, defaultTLS: configuration.tls != nil) }
        self.state = NIOLockedValueBox(State(endpoints: endpoints))
        self.configuration = configuration
        self.metricsFactory = configuration.metricsFactory ?? MetricsSystem.factory
        #if DistributedTracingSupport
        self.tracer = configuration.tracer ?? InstrumentationSystem.tracer
        #endif
        self.eventLoop = (configuration.eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton).next()
        self.logger = configuration.logger
        if endpoints.contains(where: \.tls) {
            self.sslContext = try (configuration.tls ?? .init()).makeContext()
        } else {
            self.sslContext = nil
        }
    }

    @available(macOS 15.0, *)
    var taskExecutor: any TaskExecutor {
        // A new object each time (a stored one would need the availability on the class); all
        // run on the one loop, and a call checks the loop, not the executor, to start inline.
        EventLoopTaskExecutor(eventLoop: eventLoop)
    }

    var currentEndpoint: String {
        state.withLockedValue { $0.endpoints[$0.index].description }
    }

    /// The endpoints in use (the configured ones, or those of the last ``replaceEndpoints(_:)``).
    var endpoints: [EtcdEndpoint] {
        state.withLockedValue { $0.endpoints }
    }

    /// Uses `endpoints` from now on, keeping the current connection when its endpoint is among them.
    func replaceEndpoints(_ endpoints: [EtcdEndpoint]) {
        guard !endpoints.isEmpty else { return }
        state.withLockedValue { state in
            let current = state.endpoints[state.index]
            state.endpoints = endpoints
            state.index = endpoints.firstIndex(of: current) ?? 0
        }
    }

    // MARK: Connections

    /// The current connection, connecting (and authenticating) first when there is none.
    /// The connecting runs on its own (later callers wait for the same attempt); `deadline` only
    /// bounds how long this caller waits for it.
    func connection(deadline: ContinuousClock.Instant? = nil) async throws -> GRPCConnection {
        enum Action {
            case use(GRPCConnection)
            case wait(EventLoopFuture<GRPCConnection>)
            case connect(EventLoopPromise<GRPCConnection>, Int)
            case closed
        }
        let action: Action = state.withLockedValue { state in
            if state.closed { return .closed }
            if let connection = state.connection {
                if connection.isUsable { return .use(connection) }
                state.connection = nil
            }
            if let connecting = state.connecting { return .wait(connecting) }
            let promise = eventLoop.makePromise(of: GRPCConnection.self)
            state.connecting = promise.futureResult
            return .connect(promise, state.index)
        }
        switch action {
        case .closed:
            throw EtcdError.closed()
        case .use(let connection):
            return connection
        case .wait(let future):
            return try await wait(for: future, until: deadline)
        case .connect(let promise, let start):
            Task { await self.establish(promise, from: start) }
            return try await wait(for: promise.futureResult, until: deadline)
        }
    }

    /// Connects to the first endpoint that answers, from `start` on, and completes `promise`.
    private func establish(_ promise: EventLoopPromise<GRPCConnection>, from start: Int) async {
        do {
            let (connection, index) = try await connectAny(from: start)
            let closed = state.withLockedValue { state in
                state.connecting = nil
                if state.closed { return true }
                state.connection = connection
                state.index = index < state.endpoints.count ? index : 0
                return false
            }
            if closed {
                connection.close()
                promise.fail(EtcdError.closed())
                return
            }
            promise.succeed(connection)
        } catch {
            state.withLockedValue { $0.connecting = nil }
            promise.fail(error)
        }
    }

    /// Waits for `future`, but not past `deadline`.
    private func wait(for future: EventLoopFuture<GRPCConnection>, until deadline: ContinuousClock.Instant?) async throws -> GRPCConnection {
        guard let deadline else { return try await future.get() }
        let left = deadline - .now
        guard left > .zero else { throw overallDeadlineError(path: nil, attempts: 0, last: nil) }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<GRPCConnection, any Error>) in
            let resumed = NIOLockedValueBox(false)
            let resume: @Sendable (Result<GRPCConnection, any Error>) -> Void = { result in
                let first = resumed.withLockedValue { done in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(with: result) }
            }
            let timer = future.eventLoop.scheduleTask(in: TimeAmount(left)) {
                resume(.failure(self.overallDeadlineError(path: nil, attempts: 0, last: nil)))
            }
            future.whenComplete { result in
                timer.cancel()
                resume(result)
            }
        }
    }

    /// The error of a call that ran out of its overall time (``EtcdClient/Configuration/Timeouts/overall``
    /// or ``EtcdClient/withDeadline(_:operation:)``).
    func overallDeadlineError(path: String?, attempts: Int, last: EtcdError?) -> EtcdError {
        let limit = configuration.timeouts.overall.map { "Configuration.timeouts.overall (\($0))" } ?? "its deadline"
        let what = path ?? "the call"
        var message = "\(what) did not complete within \(limit)"
        if attempts > 0 { message += " after \(attempts) attempt\(attempts == 1 ? "" : "s")" }
        if let last { message += "; last: \(last.message)" } else { message += " (no connection to any etcd endpoint in time)" }
        message += " — are the endpoints reachable and answering? raise the limit if they are just slow"
        if let last, !last.notProcessed, path.map(Self.isWrite) ?? false {
            message += "; the write may or may not have been applied"
        }
        var error = EtcdError(code: .deadlineExceeded, message: message, endpoint: last?.endpoint ?? currentEndpoint, underlying: last)
        error.notProcessed = last?.notProcessed ?? true
        return error
    }

    private static func isWrite(_ path: String) -> Bool {
        !(path.hasSuffix("/Range") || path.hasSuffix("/Status") || path.hasSuffix("/MemberList")
            || path.hasSuffix("/LeaseTimeToLive") || path.hasSuffix("/LeaseLeases"))
    }

    private func connectAny(from start: Int) async throws -> (GRPCConnection, Int) {
        let endpoints = self.endpoints
        let start = start % endpoints.count
        var failures: [String] = []
        var lastError: EtcdError?
        for offset in 0..<endpoints.count {
            let index = (start + offset) % endpoints.count
            let endpoint = endpoints[index]
            do {
                let connection = try await GRPCConnection.connect(
                    to: endpoint, group: eventLoop, sslContext: endpoint.tls ? sslContext : nil,
                    serverName: configuration.tls?.serverName, timeout: configuration.timeouts.connect,
                    settings: .init(maxMessageSize: configuration.maxResponseSize,
                                    keepAliveInterval: configuration.keepAlive.interval,
                                    keepAliveTimeout: configuration.keepAlive.timeout,
                                    userAgent: "autocluster-etcd/1"),
                    logger: logger)
                if configuration.credentials != nil {
                    do {
                        try await authenticate(connection)
                    } catch let error as EtcdError where !error.isUnavailable && error.code != .deadlineExceeded {
                        connection.close()
                        throw error  // wrong password etc.: the same on every member
                    } catch let error as EtcdError {
                        connection.close()
                        failures.append("\(endpoint) (\(error.message))")
                        lastError = error
                        continue
                    }
                }
                logger.debug("connected to etcd", metadata: ["etcd.endpoint": "\(endpoint)"])
                Counter(label: "autocluster_etcd_connects_total", dimensions: [("endpoint", endpoint.description)],
                        factory: metricsFactory).increment()
                return (connection, index)
            } catch let error as EtcdError where error.code == .connectionFailed || error.code == .unavailable {
                failures.append("\(endpoint) (\(error.underlying.map(EtcdError.causePhrase) ?? error.message))")
                lastError = error
            }
        }
        // One endpoint: its own error already names it and the cause.
        if endpoints.count == 1, let lastError, lastError.code == .connectionFailed { throw lastError }
        throw EtcdError(code: .connectionFailed,
                        message: "could not connect to any etcd endpoint: \(failures.joined(separator: "; ")) — are they running, and are the addresses right?",
                        endpoint: endpoints[start].description, underlying: lastError)
    }

    /// The auth token of the current connection, if it has authenticated. Never logged; the
    /// tests read it (through `EtcdClient.currentAuthToken`) to register it for their secret scan.
    var currentAuthToken: String? {
        state.withLockedValue { $0.connection }?.token.withLockedValue { $0 }
    }

    /// Authenticate with the configured credentials on `connection`, storing its token.
    func authenticate(_ connection: GRPCConnection) async throws {
        guard let credentials = configuration.credentials else { return }
        let request = Proto.authenticateRequest(name: credentials.username, password: credentials.password)
        let response = try await connection.unary("/etcdserverpb.Auth/Authenticate", request: request, metadata: [],
                                                  timeout: configuration.timeouts.request)
        let token = try Proto.authenticateResponse(response, endpoint: connection.endpoint)
        connection.token.withLockedValue { $0 = token }
    }

    /// Forget `connection` (closing it) and move to the next endpoint.
    func connectionFailed(_ connection: GRPCConnection) {
        let moved = state.withLockedValue { state -> Bool in
            guard state.connection === connection else { return false }
            state.connection = nil
            state.index = (state.index + 1) % state.endpoints.count
            return true
        }
        if moved {
            logger.debug("moving to the next etcd endpoint", metadata: ["etcd.failed": "\(connection.endpoint)"])
        }
        connection.close()
    }

    /// Connect to the next endpoint for new calls (after a member change), keeping `connection`'s
    /// streams running until they end.
    /// The old connection is closed once its calls had time to finish (one request timeout).
    func rotate(away connection: GRPCConnection) {
        let moved = state.withLockedValue { state -> Bool in
            guard state.connection === connection else { return false }
            state.connection = nil
            state.index = (state.index + 1) % state.endpoints.count
            return true
        }
        if moved {
            logger.debug("moving new calls to the next etcd endpoint", metadata: ["etcd.from": "\(connection.endpoint)"])
            connection.eventLoop.scheduleTask(in: TimeAmount(configuration.timeouts.request)) { connection.close() }
        }
    }

    /// Closes the current connection (its open calls fail) and refuses new calls.
    func close() async {
        let connection = state.withLockedValue { state -> GRPCConnection? in
            state.closed = true
            defer { state.connection = nil }
            return state.connection
        }
        if let connection { await connection.closeAndWait() }
    }

    var isClosed: Bool { state.withLockedValue { $0.closed } }

    // MARK: Calls

    func metadata(for connection: GRPCConnection, extra: [(String, String)] = []) -> [(String, String)] {
        var metadata = extra
        if let token = connection.token.withLockedValue({ $0 }) { metadata.append(("token", token)) }
        return metadata
    }

    /// A unary call with failover: `idempotent` calls are retried on any unavailability; others
    /// only when the server cannot have applied them. An invalid token is refreshed once.
    func unary(_ path: String, key: [UInt8]? = nil, request: [UInt8], idempotent: Bool) async throws -> (response: [UInt8], endpoint: EtcdEndpoint) {
        let started = ContinuousClock.now
        #if DistributedTracingSupport
        let span = EtcdTracing.start(path, key: key, tracer: tracer)
        #endif
        do {
            let result = try await unaryWithRetries(path, request: request, idempotent: idempotent)
            record(path, error: nil, since: started)
            #if DistributedTracingSupport
            EtcdTracing.end(span, endpoint: result.endpoint, error: nil)
            #endif
            return result
        } catch let error as EtcdError {
            record(path, error: error.code, since: started)
            #if DistributedTracingSupport
            EtcdTracing.end(span, endpoint: error.endpoint.flatMap { try? EtcdEndpoint.parse($0, defaultTLS: false) }, error: error)
            #endif
            throw error
        }
    }

    /// Metrics (`autocluster_etcd_*`, see the Metrics article): every call counts in
    /// `…_calls_total{method}` and its time in `…_call_duration_seconds{method}`; a failure also in
    /// `…_call_errors_total{method,code}` (code: the ``EtcdError/Code``). The counter and the
    /// timer are made once per method (making them per call was ~2,700 instructions,
    /// scripts/profile.sh).
    private func record(_ path: String, error: EtcdError.Code?, since started: ContinuousClock.Instant) {
        let metrics = callMetrics.withLockedValue { cache in
            if let metrics = cache[path] { return metrics }
            let metrics = (total: Counter(label: "autocluster_etcd_calls_total", dimensions: [("method", path)], factory: metricsFactory),
                           duration: Metrics.Timer(label: "autocluster_etcd_call_duration_seconds", dimensions: [("method", path)],
                                                   factory: metricsFactory))
            cache[path] = metrics
            return metrics
        }
        metrics.total.increment()
        if let error {
            Counter(label: "autocluster_etcd_call_errors_total", dimensions: [("method", path), ("code", error.description)],
                    factory: metricsFactory).increment()
        }
        let elapsed = ContinuousClock.now - started
        metrics.duration.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
    private let callMetrics = NIOLockedValueBox<[String: (total: Counter, duration: Metrics.Timer)]>([:])

    private func unaryWithRetries(_ path: String, request: [UInt8], idempotent: Bool) async throws -> (response: [UInt8], endpoint: EtcdEndpoint) {
        guard request.count <= configuration.maxRequestSize else {
            throw EtcdError(code: .invalidArgument,
                            message: "the request to \(path) is \(request.count) bytes, over Configuration.maxRequestSize (\(configuration.maxRequestSize); etcd's default --max-request-bytes is 1.5 MiB) — store less per key")
        }
        var attempt = 0
        var reauthenticated = false
        var backoff = configuration.retry.initialBackoff
        let deadline = Self.deadline(overall: configuration.timeouts.overall)
        var lastError: EtcdError?
        while true {
            attempt += 1
            if Task.isCancelled {
                throw EtcdError(code: .cancelled, message: "the call to \(path) was cancelled")
            }
            var timeout = configuration.timeouts.request
            if let deadline {
                let left = deadline - .now
                guard left > .zero else { throw overallDeadlineError(path: path, attempts: attempt - 1, last: lastError) }
                timeout = min(timeout, left)
            }
            let connection: GRPCConnection
            do {
                connection = try await self.connection(deadline: deadline)
            } catch let error as EtcdError where error.code == .connectionFailed && attempt < configuration.retry.maxAttempts {
                lastError = error
                try await sleep(&backoff, until: deadline, path: path, attempts: attempt, last: error)
                continue
            } catch let error as EtcdError where error.code == .deadlineExceeded {
                throw overallDeadlineError(path: path, attempts: attempt - 1, last: lastError)
            }
            do {
                let response = try await connection.unary(path, request: request, metadata: metadata(for: connection),
                                                          timeout: timeout)
                return (response, connection.endpoint)
            } catch let error as EtcdError {
                if isClosed { throw EtcdError.closed() }
                lastError = error
                if error.code == .unauthenticated, configuration.credentials != nil, !reauthenticated,
                   error.serverMessage?.contains("invalid auth token") == true {
                    reauthenticated = true
                    logger.debug("etcd token invalid; re-authenticating", metadata: ["etcd.endpoint": "\(connection.endpoint)"])
                    try await authenticate(connection)
                    continue
                }
                let retryable: Bool
                if error.isUnavailable && error.notProcessed && !connection.isUsable {
                    // GOAWAY: leave the draining connection to finish its other calls.
                    rotate(away: connection)
                    retryable = true
                } else if error.isUnavailable {
                    connectionFailed(connection)
                    retryable = idempotent || error.notProcessed
                } else if error.code == .deadlineExceeded, self.endpoints.count > 1 {
                    // Maybe this member is partitioned or overloaded: new calls go to the next one,
                    // while the other calls on this connection may still finish.
                    rotate(away: connection)
                    retryable = idempotent
                } else {
                    retryable = false
                }
                if let deadline, error.code == .deadlineExceeded || retryable, ContinuousClock.now >= deadline {
                    throw overallDeadlineError(path: path, attempts: attempt, last: error)
                }
                if retryable && attempt < configuration.retry.maxAttempts && !isClosed {
                    logger.debug("retrying etcd call", error: error, metadata: ["etcd.path": "\(path)", "etcd.attempt": "\(attempt)"])
                    Counter(label: "autocluster_etcd_retries_total", dimensions: [("method", path)], factory: metricsFactory).increment()
                    try await sleep(&backoff, until: deadline, path: path, attempts: attempt, last: error)
                    continue
                }
                throw error
            }
        }
    }

    /// The deadline of a call starting now: the earlier of `overall` from now and the
    /// enclosing ``EtcdClient/withDeadline(_:operation:)``.
    static func deadline(overall: Duration?) -> ContinuousClock.Instant? {
        let configured = overall.map { ContinuousClock.now + $0 }
        switch (configured, EtcdClient.callDeadline) {
        case (nil, nil): return nil
        case (let a?, nil): return a
        case (nil, let b?): return b
        case (let a?, let b?): return min(a, b)
        }
    }

    /// The pause of the watch stream's resume loop: sleeps `backoff` × a jitter factor in
    /// 0.8…1.2 (as the unary retries and the lease keeper do, so that clients cut off together do
    /// not come back together), then doubles it up to `retry.maxBackoff`. False if the task was
    /// cancelled.
    func resumePause(_ backoff: inout Duration) async -> Bool {
        do {
            try await Task.sleep(for: backoff * Double.random(in: 0.8...1.2))
        } catch {
            return false
        }
        backoff = min(backoff * 2, configuration.retry.maxBackoff)
        return true
    }

    /// Sleeps the backoff before the next attempt; throws the overall-deadline error instead when
    /// no time would be left after it.
    private func sleep(_ backoff: inout Duration, until deadline: ContinuousClock.Instant?, path: String,
                       attempts: Int, last: EtcdError) async throws {
        var pause = backoff * Double.random(in: 0.8...1.2)
        if let deadline {
            let left = deadline - .now
            guard left > pause else { throw overallDeadlineError(path: path, attempts: attempts, last: last) }
            pause = min(pause, left)
        }
        do {
            try await Task.sleep(for: pause)
        } catch {
            throw EtcdError(code: .cancelled, message: "the call was cancelled while waiting to retry")
        }
        backoff = min(backoff * 2, configuration.retry.maxBackoff)
    }
}
