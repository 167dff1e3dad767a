import CNGHTTP2
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One HTTP/2 connection to one etcd endpoint, multiplexing every call of the client.
///
/// nghttp2 is the protocol engine: bytes read from the channel go into
/// `nghttp2_session_mem_recv`, and what `nghttp2_session_mem_send` produces is written to the
/// channel. The handler owns the `nghttp2_session` and frees it exactly once when the channel
/// goes away. Every nghttp2 call happens on the channel's event loop, so the event-loop state
/// needs no lock (hence `@unchecked Sendable`); only `isUsable` is read from other threads and
/// lives in a lock.
final class GRPCConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Settings: Sendable {
        var maxMessageSize: Int
        var keepAliveInterval: Duration
        var keepAliveTimeout: Duration
        var userAgent: String
    }

    let endpoint: EtcdEndpoint
    let eventLoop: EventLoop
    let settings: Settings
    let logger: Logger

    private let usable = NIOLockedValueBox(true)

    /// What the connection's streams look like on the wire, for tests and diagnostics.
    struct StreamStatistics: Sendable, Equatable {
        /// Streams whose request HEADERS were sent and that nghttp2 has not closed yet.
        var open = 0
        /// The most streams ever open at once on this connection.
        var maxOpen = 0
        /// Calls waiting for a free stream.
        var queued = 0
        /// The most calls ever waiting at once.
        var maxQueued = 0
        /// The server's SETTINGS_MAX_CONCURRENT_STREAMS (`UInt32.max` when it set none).
        var peerLimit: UInt32 = .max
    }
    /// Updated on the event loop, read from anywhere.
    let statistics = NIOLockedValueBox(StreamStatistics())
    /// The auth token for this member (simple tokens are per member), set after Authenticate.
    let token = NIOLockedValueBox<String?>(nil)

    // Event-loop state.
    private var session: OpaquePointer?
    private var context: ChannelHandlerContext?
    private var streams: [Int32: GRPCStream] = [:]
    /// Calls waiting for a stream slot, oldest first: the server's SETTINGS_MAX_CONCURRENT_STREAMS
    /// is honoured here rather than in nghttp2's own queue, so a waiting call has no stream ID
    /// yet (GOAWAY and connection loss fail it as "not processed", safe to retry), leaves the
    /// queue the moment its deadline passes, and sends the time it has left as grpc-timeout.
    private var pending = CircularBuffer<GRPCStream>()
    /// Stream IDs submitted to nghttp2 and not yet closed by it: they count against the limit.
    private var submitted = Set<Int32>()
    /// Stream IDs whose request HEADERS went out and that are not closed yet (measured from
    /// nghttp2's callbacks, independently of `submitted`, for ``statistics``).
    private var onWire = Set<Int32>()
    private var ready: EventLoopPromise<Void>?
    /// The result of `ready`, kept so a failure that happens before anyone waits is not lost.
    private let readyFuture: EventLoopFuture<Void>
    /// Succeeded once the channel is gone (or was never made).
    private let closed: EventLoopPromise<Void>
    private var lastError: (any Error)?
    private var keepAliveTask: RepeatedTask?
    private var pingTimeout: Scheduled<Void>?
    private var goAwayReceived = false
    /// The last stream the server said it may process (GOAWAY's last-stream-id).
    private var goAwayLastStreamID: Int32 = .max
    private var flushing = false
    /// A flush is queued on the event loop: calls started in the same tick share one write.
    private var flushScheduled = false
    /// The request headers every call on this connection sends, encoded once (building them per
    /// call was ~10,000 instructions, a third of `start`, in scripts/profile.sh).
    private lazy var fixedHeaders = GRPCHeaderBlock([
        (":method", "POST"), (":scheme", endpoint.tls ? "https" : "http"), (":authority", endpoint.authority),
        ("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", settings.userAgent),
    ])
    /// The timer of ``expireDeadlines()`` and when it fires.
    private var deadlineTimer: Scheduled<Void>?
    private var deadlineTimerAt: NIODeadline?
    /// The last grpc-timeout header: calls mostly share the configured timeout.
    private var lastTimeoutHeader: (timeout: Duration, block: GRPCHeaderBlock)?

    init(endpoint: EtcdEndpoint, eventLoop: EventLoop, settings: Settings, logger: Logger) {
        self.endpoint = endpoint
        self.eventLoop = eventLoop
        self.settings = settings
        self.logger = logger
        let ready = eventLoop.makePromise(of: Void.self)
        self.ready = ready
        self.readyFuture = ready.futureResult
        self.closed = eventLoop.makePromise()
    }

    /// False once the connection is closed or draining after GOAWAY: new calls go elsewhere.
    var isUsable: Bool { usable.withLockedValue { $0 } }

    /// Connects and waits for the server's HTTP/2 SETTINGS (so a TLS or protocol failure
    /// surfaces here, not on the first call), within `timeout`.
    static func connect(
        to endpoint: EtcdEndpoint, group: EventLoopGroup, sslContext: NIOSSLContext?, serverName: String?,
        timeout: Duration, settings: Settings, logger: Logger
    ) async throws -> GRPCConnection {
        let eventLoop = group.next()
        let connection = GRPCConnection(endpoint: endpoint, eventLoop: eventLoop, settings: settings, logger: logger)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000
                + timeout.components.attoseconds / 1_000_000_000))
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                do {
                    if let sslContext {
                        let hostname = serverName ?? (endpoint.hostIsIPAddress ? nil : endpoint.host)
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: sslContext, serverHostname: hostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(connection)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            connection.abandon()
            throw EtcdError(code: .connectionFailed,
                            message: "could not connect to etcd at \(endpoint) (\(EtcdError.causePhrase(error))) — is etcd running there, and is the address right?",
                            endpoint: endpoint.description, underlying: error)
        }
        let timeoutTask = eventLoop.scheduleTask(in: .init(timeout)) {
            connection.failReady(EtcdError(code: .connectionFailed,
                                           message: "etcd at \(endpoint) accepted the connection but did not speak HTTP/2 within \(timeout) — is it an etcd client URL (not the peer port)? does it need TLS?",
                                           endpoint: endpoint.description))
            channel.close(promise: nil)
        }
        do {
            try await connection.readyFuture.get()
            timeoutTask.cancel()
            return connection
        } catch {
            timeoutTask.cancel()
            channel.close(promise: nil)
            throw error
        }
    }


    private func failReady(_ error: EtcdError) {
        // Inline on the event loop, so a close that follows (the connect time-out closes the
        // channel right after) cannot fail `ready` first with a vaguer "connection lost".
        if eventLoop.inEventLoop {
            ready?.fail(error)
            ready = nil
        } else {
            eventLoop.execute {
                self.ready?.fail(error)
                self.ready = nil
            }
        }
    }

    /// The channel was never made: complete the promises so none leaks.
    private func abandon() {
        eventLoop.execute {
            let error = EtcdError(code: .connectionFailed, message: "not connected", endpoint: self.endpoint.description)
            self.ready?.fail(error)
            self.ready = nil
            self.closed.succeed()
        }
    }

    /// Closes the channel and waits until it is closed; open calls have failed by then.
    func closeAndWait() async {
        close()
        try? await closed.futureResult.get()
    }

    /// Closes the channel; open calls fail with `.unavailable`.
    func close() {
        usable.withLockedValue { $0 = false }
        eventLoop.execute {
            self.context?.close(promise: nil)
        }
    }

    // MARK: Channel events

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, namelen, value, valuelen, _, user in
            // Only :status, grpc-status and grpc-message matter: skip the others (content-type,
            // trailers…) before making Strings, which are allocations on every call.
            let nameBytes = UnsafeBufferPointer(start: name, count: namelen)
            guard GRPCConnection.isInteresting(nameBytes) else { return 0 }
            let connection = Unmanaged<GRPCConnection>.fromOpaque(user!).takeUnretainedValue()
            connection.receivedHeader(
                streamID: frame!.pointee.hd.stream_id,
                name: String(decoding: nameBytes, as: UTF8.self),
                value: String(decoding: UnsafeBufferPointer(start: value, count: valuelen), as: UTF8.self))
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, user in
            let connection = Unmanaged<GRPCConnection>.fromOpaque(user!).takeUnretainedValue()
            connection.receivedData(streamID: streamID, UnsafeBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, user in
            let connection = Unmanaged<GRPCConnection>.fromOpaque(user!).takeUnretainedValue()
            connection.streamClosed(streamID: streamID, errorCode: errorCode)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, user in
            let connection = Unmanaged<GRPCConnection>.fromOpaque(user!).takeUnretainedValue()
            connection.receivedFrame(frame!.pointee)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks) { _, frame, user in
            if frame!.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue),
               frame!.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
                let connection = Unmanaged<GRPCConnection>.fromOpaque(user!).takeUnretainedValue()
                connection.requestHeadersSent(streamID: frame!.pointee.hd.stream_id)
            }
            return 0
        }
        // The pipeline retains this handler for as long as the session exists (freed in channelInactive).
        // Closed streams are not retained (we use no priority tree), so state stays bounded.
        var options: OpaquePointer?
        nghttp2_option_new(&options)
        defer { nghttp2_option_del(options) }
        nghttp2_option_set_no_closed_streams(options, 1)
        let rc = nghttp2_session_client_new2(&session, callbacks, Unmanaged.passUnretained(self).toOpaque(), options)
        guard rc == 0 else {
            lastError = EtcdError(code: .internal, message: "nghttp2_session_client_new failed (\(rc))")
            context.close(promise: nil)
            return
        }
        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: 4 << 20),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: 1 << 20),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, 16 << 20)
        flush()
        let interval = TimeAmount(settings.keepAliveInterval)
        keepAliveTask = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
            self?.sendKeepAlivePing()
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard let session else { return }
        let rc = buffer.withUnsafeReadableBytes { bytes in
            nghttp2_session_mem_recv(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        if rc < 0 {
            let text = String(cString: nghttp2_strerror(Int32(rc)))
            lastError = EtcdError(code: .protocolError,
                                  message: "HTTP/2 protocol error from etcd at \(endpoint): \(text) — is this an etcd client URL?",
                                  endpoint: endpoint.description)
            context.close(promise: nil)
            return
        }
    }

    /// One flush per batch of reads (NIO delivers several reads, then this), not one per read.
    func channelReadComplete(context: ChannelHandlerContext) {
        flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if lastError == nil { lastError = error }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        usable.withLockedValue { $0 = false }
        keepAliveTask?.cancel()
        keepAliveTask = nil
        pingTimeout?.cancel()
        pingTimeout = nil
        deadlineTimer?.cancel()
        deadlineTimer = nil
        deadlineTimerAt = nil
        let error = connectionLostError()
        ready?.fail(error)
        ready = nil
        let open = streams
        streams.removeAll()
        var waiting: [GRPCStream] = []
        while let stream = pending.popFirst() {
            stream.queued = false
            waiting.append(stream)
        }
        submitted.removeAll()
        onWire.removeAll()
        updateStatistics()
        if let session {
            nghttp2_session_del(session)
            self.session = nil
        }
        for (_, stream) in open.sorted(by: { $0.key < $1.key }) {
            if goAwayReceived && stream.streamID <= goAwayLastStreamID {
                // The server may have processed it (GOAWAY said so) but closed before answering.
                finish(stream, error: EtcdError(
                    code: .unavailable,
                    message: "etcd at \(endpoint) went away (GOAWAY) and closed the connection before answering \(stream.path) — the call may or may not have been applied: reads are retried elsewhere, a write is not (re-read, then write again if needed)",
                    endpoint: endpoint.description, underlying: lastError))
            } else {
                finish(stream, error: error)
            }
        }
        // Never sent: safe to retry anywhere, even writes.
        var unsent = error
        unsent.notProcessed = true
        for stream in waiting { finish(stream, error: unsent) }
        self.context = nil
        closed.succeed()
        context.fireChannelInactive()
    }

    private func connectionLostError() -> EtcdError {
        if let error = lastError as? EtcdError { return error }
        if let error = lastError, error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return EtcdError(code: .tlsFailure,
                             message: "TLS with etcd at \(endpoint) failed (\(EtcdError.causePhrase(error))) — check Configuration.tls (CA file, server name, client certificate)",
                             endpoint: endpoint.description, underlying: error)
        }
        return EtcdError(code: .unavailable,
                         message: "the connection to etcd at \(endpoint) was lost\(lastError.map { " (\(EtcdError.causePhrase($0)))" } ?? "") — the client reconnects, possibly to another endpoint",
                         endpoint: endpoint.description, underlying: lastError)
    }

    // MARK: Calls (event loop)

    /// Opens a call: submits the request headers (or queues the call while the server's stream
    /// limit is reached); `stream.send` supplies the messages. `timeout` bounds the whole call,
    /// time in the queue included.
    func start(_ stream: GRPCStream, metadata: [(String, String)], timeout: Duration?) {
        eventLoop.preconditionInEventLoop()
        guard !stream.finished else { return }
        if stream.cancelRequested {
            finish(stream, error: EtcdError(code: .cancelled, message: "the call was cancelled", endpoint: endpoint.description))
            return
        }
        guard session != nil, !goAwayReceived else {
            var error = EtcdError(code: .unavailable, message: "the connection to etcd at \(endpoint) is closing — retry",
                                  endpoint: endpoint.description)
            error.notProcessed = true
            finish(stream, error: error)
            return
        }
        stream.metadata = metadata
        if let timeout {
            // One timer per connection checks every call's deadline, queued ones included.
            let deadline = NIODeadline.now() + TimeAmount(timeout)
            stream.deadlineAt = deadline
            stream.timeout = timeout
            armDeadlineTimer(deadline)
        }
        if pending.isEmpty && submitted.count < peerStreamLimit {
            submit(stream, wasQueued: false)
        } else {
            stream.queued = true
            pending.append(stream)
            updateStatistics()
        }
        scheduleFlush()
    }

    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS.
    private var peerStreamLimit: Int {
        guard let session else { return 0 }
        return Int(nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS))
    }

    private func deadlinePassed(_ stream: GRPCStream) {
        let timeout = stream.timeout ?? .zero
        if stream.queued {
            var error = EtcdError(
                code: .deadlineExceeded,
                message: "\(stream.path) waited \(timeout) for a free stream on the connection to etcd at \(endpoint) (it allows \(peerStreamLimit) concurrent streams, --max-concurrent-streams) and was never sent — make fewer concurrent calls, or raise the timeout or the server's limit",
                endpoint: endpoint.description)
            error.notProcessed = true
            cancel(stream, error: error)
        } else {
            cancel(stream, error: EtcdError(
                code: .deadlineExceeded,
                message: "etcd at \(endpoint) did not answer \(stream.path) within \(timeout) — is it overloaded, stopped or partitioned? the call may or may not have been applied",
                endpoint: endpoint.description))
        }
    }

    /// Starts queued calls while the server allows more streams.
    private func drainQueue() {
        while !pending.isEmpty, session != nil, !goAwayReceived, submitted.count < peerStreamLimit {
            let stream = pending.removeFirst()
            stream.queued = false
            submit(stream, wasQueued: true)
        }
        updateStatistics()
    }

    private var canDrainQueue: Bool {
        !pending.isEmpty && session != nil && !goAwayReceived && submitted.count < peerStreamLimit
    }

    /// Hands the call to nghttp2: HEADERS now, DATA from `stream.outbound`. A call that waited in
    /// the queue sends the time it has left as grpc-timeout; one sent at once its whole timeout
    /// (whose encoded header is shared by most calls).
    private func submit(_ stream: GRPCStream, wasQueued: Bool) {
        guard let session else { return }
        var headerTimeout = stream.timeout
        if wasQueued, let deadlineAt = stream.deadlineAt {
            let left = deadlineAt - .now()
            guard left.nanoseconds > 0 else {
                var error = EtcdError(code: .deadlineExceeded,
                                      message: "\(stream.path) reached its deadline waiting for a free stream on the connection to etcd at \(endpoint) and was never sent — make fewer concurrent calls, or raise the timeout",
                                      endpoint: endpoint.description)
                error.notProcessed = true
                finish(stream, error: error)
                return
            }
            headerTimeout = .nanoseconds(left.nanoseconds)
        }
        let metadata = stream.metadata
        stream.metadata = []
        // Headers: :path, then the connection's fixed block, grpc-timeout and the metadata, each
        // encoded once where it can be (nghttp2 copies names and values during submit).
        let fixed = fixedHeaders
        let timeoutBlock = headerTimeout.map { timeoutHeader($0) }
        let extra = metadata.isEmpty ? nil : GRPCHeaderBlock(metadata)
        let count = 1 + fixed.entries.count + (timeoutBlock?.entries.count ?? 0) + (extra?.entries.count ?? 0)
        var provider = nghttp2_data_provider()
        provider.read_callback = { _, streamID, buffer, length, flags, _, user in
            let connection = Unmanaged<GRPCConnection>.fromOpaque(user!).takeUnretainedValue()
            return connection.readRequestBody(streamID: streamID, into: buffer!, length: length, flags: flags!)
        }
        var path = stream.path
        let streamID: Int32 = path.withUTF8 { pathBytes in
            withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: count) { nva in
                var n = 0
                func add(_ block: GRPCHeaderBlock?) {
                    guard let block else { return }
                    for entry in block.entries {
                        nva[n] = entry
                        n += 1
                    }
                }
                nva[n] = GRPCHeaderBlock.pathName.entries[0]
                nva[n].value = UnsafeMutablePointer(mutating: pathBytes.baseAddress!)
                nva[n].valuelen = pathBytes.count
                n += 1
                add(fixed)
                add(timeoutBlock)
                add(extra)
                return nghttp2_submit_request(session, nil, nva.baseAddress, n, &provider, nil)
            }
        }
        withExtendedLifetime((fixed, timeoutBlock, extra)) {}  // their bytes were read during submit
        guard streamID > 0 else {
            let text = String(cString: nghttp2_strerror(streamID))
            var error = EtcdError(code: .unavailable, message: "could not start a call to etcd at \(endpoint): \(text) — retry",
                                  endpoint: endpoint.description)
            error.notProcessed = true
            finish(stream, error: error)
            return
        }
        stream.streamID = streamID
        stream.started = true
        streams[streamID] = stream
        submitted.insert(streamID)
    }

    private func requestHeadersSent(streamID: Int32) {
        onWire.insert(streamID)
        updateStatistics()
    }

    private func updateStatistics() {
        let open = onWire.count, queued = pending.count, limit = session.map {
            nghttp2_session_get_remote_settings($0, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
        }
        statistics.withLockedValue { stats in
            stats.open = open
            stats.maxOpen = max(stats.maxOpen, open)
            stats.queued = queued
            stats.maxQueued = max(stats.maxQueued, queued)
            if let limit { stats.peerLimit = limit }
        }
    }

    /// One timer for every call's deadline, armed at the earliest: a timer per call (scheduled,
    /// then cancelled) cost ~8,000 instructions per call (scripts/profile.sh).
    private func armDeadlineTimer(_ deadline: NIODeadline) {
        if let armed = deadlineTimerAt, armed <= deadline { return }
        deadlineTimer?.cancel()
        deadlineTimerAt = deadline
        deadlineTimer = eventLoop.scheduleTask(deadline: deadline) { [weak self] in self?.expireDeadlines() }
    }

    /// Fails the calls past their deadline, then re-arms the timer for the earliest remaining one.
    private func expireDeadlines() {
        deadlineTimer = nil
        deadlineTimerAt = nil
        let now = NIODeadline.now()
        var expired: [GRPCStream] = []
        var next: NIODeadline?
        func check(_ stream: GRPCStream) {
            guard let deadline = stream.deadlineAt, !stream.finished else { return }
            if deadline <= now {
                expired.append(stream)
            } else if next.map({ deadline < $0 }) ?? true {
                next = deadline
            }
        }
        for stream in streams.values { check(stream) }
        for stream in pending { check(stream) }  // queued calls, not sent yet
        for stream in expired.sorted(by: { $0.streamID < $1.streamID }) { deadlinePassed(stream) }
        if let next { armDeadlineTimer(next) }
    }

    private func timeoutHeader(_ timeout: Duration) -> GRPCHeaderBlock {
        if let last = lastTimeoutHeader, last.timeout == timeout { return last.block }
        let block = GRPCHeaderBlock([("grpc-timeout", GRPCFraming.timeoutHeader(timeout))])
        lastTimeoutHeader = (timeout, block)
        return block
    }

    /// Appends framed request bytes to a call (resuming its deferred DATA).
    func queue(_ framed: [UInt8], end: Bool, on stream: GRPCStream) {
        guard !stream.finished else { return }
        stream.outbound.append(contentsOf: framed)
        if end { stream.endOfRequest = true }
        if stream.started, stream.deferred, let session {
            stream.deferred = false
            nghttp2_session_resume_data(session, stream.streamID)
            flush()
        }
    }

    /// Cancels a call with `error`: RST_STREAM(CANCEL) when it was started, then `onClose(error)`.
    func cancel(_ stream: GRPCStream, error: EtcdError) {
        guard !stream.finished else { return }
        if stream.queued {
            stream.queued = false
            if let index = pending.firstIndex(where: { $0 === stream }) { pending.remove(at: index) }
            updateStatistics()
            finish(stream, error: error)
            return
        }
        guard stream.started else {
            stream.cancelRequested = true
            return
        }
        // Forget the stream first: flushing the RST closes it inside nghttp2, and that close
        // must not be reported as a reset by the server.
        streams[stream.streamID] = nil
        finish(stream, error: error)
        if let session, stream.streamID > 0 {
            nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.streamID,
                                      NGHTTP2_CANCEL.rawValue)
            flush()
        }
    }

    private func finish(_ stream: GRPCStream, error: EtcdError?) {
        guard !stream.finished else { return }
        stream.finished = true
        stream.outbound = []
        stream.inbound = []
        stream.onClose(error)
        stream.onClose = { _ in }
        stream.onMessage = { _ in }
    }

    // MARK: nghttp2 callbacks (event loop, inside mem_recv / mem_send)

    private func readRequestBody(streamID: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int,
                                 flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let stream = streams[streamID] else {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            return 0
        }
        let n = min(length, stream.pendingOutbound)
        if n > 0 {
            stream.outbound.withUnsafeBufferPointer { source in
                buffer.update(from: source.baseAddress! + stream.outboundOffset, count: n)
            }
            stream.outboundOffset += n
            if stream.outboundOffset == stream.outbound.count {
                stream.outbound.removeAll(keepingCapacity: true)
                stream.outboundOffset = 0
            } else if stream.outboundOffset > 65_536 {
                stream.outbound.removeFirst(stream.outboundOffset)
                stream.outboundOffset = 0
            }
        }
        if stream.pendingOutbound == 0 {
            if stream.endOfRequest {
                flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            } else if n == 0 {
                stream.deferred = true
                return Int(NGHTTP2_ERR_DEFERRED.rawValue)
            }
        }
        return n
    }

    /// Whether ``receivedHeader(streamID:name:value:)`` looks at this response header: by length,
    /// then bytes (matching against an array of arrays cost ~4,000 instructions per call).
    private static func isInteresting(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        func equals(_ literal: StaticString) -> Bool {
            name.count == literal.utf8CodeUnitCount && memcmp(name.baseAddress!, literal.utf8Start, name.count) == 0
        }
        switch name.count {
        case 7: return equals(":status")
        case 11: return equals("grpc-status")
        case 12: return equals("grpc-message")
        default: return false
        }
    }

    private func receivedHeader(streamID: Int32, name: String, value: String) {
        guard let stream = streams[streamID] else { return }
        switch name {
        case ":status": stream.httpStatus = Int(value)
        case "grpc-status": stream.grpcStatus = Int(value)
        case "grpc-message": stream.grpcMessage = GRPCFraming.percentDecode(value)
        default: break
        }
    }

    private func receivedData(streamID: Int32, _ data: UnsafeBufferPointer<UInt8>) {
        guard let stream = streams[streamID], !stream.finished else { return }
        stream.inbound.append(contentsOf: data)
        while true {
            switch GRPCFraming.next(stream.inbound, offset: &stream.inboundOffset, maxMessageSize: settings.maxMessageSize) {
            case .message(let message):
                stream.onMessage(message)
            case .needMoreData:
                if stream.inboundOffset > 0 {
                    stream.inbound.removeFirst(stream.inboundOffset)
                    stream.inboundOffset = 0
                }
                return
            case .tooLarge(let size):
                let error = EtcdError(code: .resourceExhausted,
                                      message: "etcd at \(endpoint) sent a \(size)-byte message on \(stream.path), over Configuration.maxResponseSize (\(settings.maxMessageSize)) — raise it or ask for less (limit, keysOnly)",
                                      endpoint: endpoint.description)
                rstAndFinish(stream, error: error)
                return
            case .compressed:
                rstAndFinish(stream, error: EtcdError(code: .protocolError,
                                                      message: "etcd at \(endpoint) sent a compressed message, which this client never asked for",
                                                      endpoint: endpoint.description))
                return
            }
        }
    }

    /// Inside a callback: RST the stream (sent by the next flush) and report `error`.
    private func rstAndFinish(_ stream: GRPCStream, error: EtcdError) {
        streams[stream.streamID] = nil
        finish(stream, error: error)
        if let session {
            nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.streamID,
                                      NGHTTP2_CANCEL.rawValue)
        }
        eventLoop.execute { self.flush() }
    }

    private func streamClosed(streamID: Int32, errorCode: UInt32) {
        // The slot is free now (queued calls start at the next flush), whether or not we still track the call.
        submitted.remove(streamID)
        if onWire.remove(streamID) != nil { updateStatistics() }
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        if let status = stream.grpcStatus {
            if status == 0 {
                finish(stream, error: nil)
            } else {
                finish(stream, error: .fromStatus(status, message: stream.grpcMessage ?? "", endpoint: endpoint.description))
            }
            return
        }
        if errorCode == NGHTTP2_REFUSED_STREAM.rawValue {
            var error = EtcdError(code: .unavailable,
                                  message: "etcd at \(endpoint) refused the stream before processing it (GOAWAY or stream limit) — retried elsewhere",
                                  endpoint: endpoint.description)
            error.notProcessed = true
            finish(stream, error: error)
        } else if errorCode == NGHTTP2_CANCEL.rawValue, let deadline = stream.deadlineAt,
                  NIODeadline.now() + .milliseconds(200) >= deadline {
            // The server gave up at the grpc-timeout we sent, just before our own timer fired.
            finish(stream, error: EtcdError(
                code: .deadlineExceeded,
                message: "etcd at \(endpoint) did not finish \(stream.path) before its deadline — is it overloaded, or without quorum? the call may or may not have been applied",
                endpoint: endpoint.description))
        } else if errorCode != 0 {
            finish(stream, error: EtcdError(code: .unavailable,
                                            message: "etcd at \(endpoint) reset the stream \(stream.path) (HTTP/2 error \(errorCode)) — retry",
                                            endpoint: endpoint.description))
        } else if let http = stream.httpStatus, http != 200 {
            finish(stream, error: EtcdError(code: http == 404 ? .unimplemented : .unavailable,
                                            message: "etcd at \(endpoint) answered \(stream.path) with HTTP \(http) and no gRPC status — is this an etcd v3 client URL?",
                                            endpoint: endpoint.description))
        } else {
            finish(stream, error: EtcdError(code: .protocolError,
                                            message: "etcd at \(endpoint) ended \(stream.path) without a grpc-status",
                                            endpoint: endpoint.description))
        }
    }

    private func receivedFrame(_ frame: nghttp2_frame) {
        switch UInt32(frame.hd.type) {
        case NGHTTP2_SETTINGS.rawValue:
            updateStatistics()
            if let ready {
                self.ready = nil
                ready.succeed()
            }
        case NGHTTP2_PING.rawValue:
            if frame.hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 {
                pingTimeout?.cancel()
                pingTimeout = nil
            }
        case NGHTTP2_GOAWAY.rawValue:
            goAwayReceived = true
            goAwayLastStreamID = min(goAwayLastStreamID, frame.goaway.last_stream_id)
            usable.withLockedValue { $0 = false }
            // Calls still waiting for a slot were never sent: they fail as not processed and are
            // retried on a new connection. (nghttp2 itself closes the sent streams above
            // last-stream-id with REFUSED_STREAM, which ``streamClosed`` reports the same way.)
            var error = EtcdError(code: .unavailable,
                                  message: "etcd at \(endpoint) is going away (GOAWAY) and the call was not sent — retried on a new connection",
                                  endpoint: endpoint.description)
            error.notProcessed = true
            while let stream = pending.popFirst() {
                stream.queued = false
                finish(stream, error: error)
            }
            updateStatistics()
            logger.debug("etcd sent GOAWAY", metadata: [
                "etcd.endpoint": "\(endpoint)", "etcd.last-stream-id": "\(frame.goaway.last_stream_id)",
                "etcd.error-code": "\(frame.goaway.error_code)",
            ])
        default:
            break
        }
    }

    // MARK: Output

    private func sendKeepAlivePing() {
        guard let session, pingTimeout == nil else { return }
        nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
        flush()
        pingTimeout = eventLoop.scheduleTask(in: .init(settings.keepAliveTimeout)) { [weak self] in
            guard let self else { return }
            self.lastError = EtcdError(code: .unavailable,
                                       message: "etcd at \(self.endpoint) did not answer a keepalive PING within \(self.settings.keepAliveTimeout) — the connection is considered dead",
                                       endpoint: self.endpoint.description)
            self.context?.close(promise: nil)
        }
    }

    /// Flushes once the event loop has run the tasks already queued (other calls being started),
    /// so that a burst of calls goes out in one write.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.execute {
            self.flushScheduled = false
            self.flush()
        }
    }

    /// Writes everything nghttp2 wants to send (in one buffer, one write), then closes the
    /// connection if nghttp2 is done with it.
    func flush() {
        guard let session, let context, !flushing else { return }
        flushing = true
        defer { flushing = false }
        var output: ByteBuffer?
        drainQueue()
        while true {
            var chunk: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &chunk)
            if n < 0 {
                lastError = EtcdError(code: .protocolError,
                                      message: "nghttp2 failed to send to \(endpoint): \(String(cString: nghttp2_strerror(Int32(n))))",
                                      endpoint: endpoint.description)
                context.close(promise: nil)
                return
            }
            if n == 0 {
                // Streams closed while sending (RST_STREAM) freed slots for queued calls.
                if canDrainQueue {
                    drainQueue()
                    continue
                }
                break
            }
            let bytes = UnsafeRawBufferPointer(start: chunk, count: n)
            if output == nil {
                output = context.channel.allocator.buffer(capacity: max(n, 4096))
            }
            output!.writeBytes(bytes)
        }
        if let output {
            context.writeAndFlush(wrapOutboundOut(output), promise: nil)
        }
        if nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 {
            context.close(promise: nil)
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// Header names and values in one C buffer with their `nghttp2_nv` entries, made once and
/// submitted with many calls (nghttp2 copies them during submit, so nothing points here after).
final class GRPCHeaderBlock: @unchecked Sendable {
    // @unchecked: the buffers are written only in init, then only read.
    let entries: UnsafeMutableBufferPointer<nghttp2_nv>
    private let bytes: UnsafeMutableBufferPointer<UInt8>

    /// `:path`'s name; each call points the value at its own path.
    static let pathName = GRPCHeaderBlock([(":path", "")])

    init(_ headers: [(String, String)]) {
        let total = headers.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count }
        bytes = .allocate(capacity: max(total, 1))
        entries = .allocate(capacity: headers.count)
        var offset = 0
        func append(_ text: String) -> (UnsafeMutablePointer<UInt8>, Int) {
            let start = bytes.baseAddress! + offset
            for byte in text.utf8 {
                bytes[offset] = byte
                offset += 1
            }
            return (start, text.utf8.count)
        }
        for (i, (name, value)) in headers.enumerated() {
            let (namePointer, nameLength) = append(name)
            let (valuePointer, valueLength) = append(value)
            entries[i] = nghttp2_nv(name: namePointer, value: valuePointer, namelen: nameLength, valuelen: valueLength,
                                    flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
        }
    }

    deinit {
        bytes.deallocate()
        entries.deallocate()
    }
}
