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
    /// Streams, the stream-limit queue, GOAWAY, deadlines and keepalive: this handler feeds it
    /// nghttp2's and the channel's events and carries out what it returns.
    private var machine = GRPCConnectionStateMachine()
    /// The calls `machine` knows (queued or started, not ended), by call ID.
    private var calls: [GRPCConnectionStateMachine.CallID: GRPCStream] = [:]
    private var nextCallID: GRPCConnectionStateMachine.CallID = 0
    private var ready: EventLoopPromise<Void>?
    /// The result of `ready`, kept so a failure that happens before anyone waits is not lost.
    private let readyFuture: EventLoopFuture<Void>
    /// Succeeded once the channel is gone (or was never made).
    private let closed: EventLoopPromise<Void>
    private var lastError: (any Error)?
    private var keepAliveTask: RepeatedTask?
    private var pingTimeout: Scheduled<Void>?
    private var flushing = false
    /// A flush is queued on the event loop: calls started in the same tick share one write.
    private var flushScheduled = false
    /// The request headers every call on this connection sends, encoded once (building them per
    /// call was ~10,000 instructions, a third of `start`, in scripts/profile.sh).
    private lazy var fixedHeaders = GRPCHeaderBlock([
        (":method", "POST"), (":scheme", endpoint.tls ? "https" : "http"), (":authority", endpoint.authority),
        ("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", settings.userAgent),
    ])
    /// The one timer for every call's deadline (the state machine says when it fires): a timer
    /// per call (scheduled, then cancelled) cost ~8,000 instructions per call (scripts/profile.sh).
    private var deadlineTimer: Scheduled<Void>?
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
        perform(machine.channelActive())
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
            guard let self else { return }
            self.perform(self.machine.keepAliveTimerFired())
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
            lastError = EtcdError.http2ReceiveFailed(Int32(rc), endpoint: endpoint)
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
        ready?.fail(EtcdError.connectionLost(endpoint: endpoint, lastError: lastError))
        ready = nil
        let failures = machine.channelInactive()
        updateStatistics()
        if let session {
            nghttp2_session_del(session)
            self.session = nil
        }
        perform(failures)
        calls.removeAll()
        self.context = nil
        closed.succeed()
        context.fireChannelInactive()
    }

    // MARK: Calls (event loop)

    /// Opens a call: submits the request headers (or queues the call while the server's stream
    /// limit is reached); `stream.send` supplies the messages. `timeout` bounds the whole call,
    /// time in the queue included.
    func start(_ stream: GRPCStream, metadata: [(String, String)], timeout: Duration?) {
        eventLoop.preconditionInEventLoop()
        guard !stream.finished else { return }
        if stream.cancelRequested {
            finish(stream, error: error(.cancelled, stream))
            return
        }
        let id = nextCallID
        nextCallID += 1
        stream.callID = id
        calls[id] = stream
        let action = machine.startCall(id, timeout: timeout, now: .now())
        if case .failCall = action {
            perform(action)
            return
        }
        stream.metadata = metadata
        perform(action)
        scheduleFlush()
    }

    /// Appends framed request bytes to a call (resuming its deferred DATA).
    func queue(_ framed: [UInt8], end: Bool, on stream: GRPCStream) {
        guard !stream.finished else { return }
        stream.outbound.append(contentsOf: framed)
        if end { stream.endOfRequest = true }
        if stream.streamID > 0, stream.deferred, let session {
            stream.deferred = false
            nghttp2_session_resume_data(session, stream.streamID)
            flush()
        }
    }

    /// Ends a call with `failure`: RST_STREAM(CANCEL) when it was started, then `onClose(error)`.
    func cancel(_ stream: GRPCStream, _ failure: GRPCConnectionStateMachine.Failure) {
        guard !stream.finished else { return }
        let action = machine.cancelCall(stream.callID, failure)
        switch action {
        case .none:
            stream.cancelRequested = true  // not started yet: `start` ends it
        case .failCall:
            updateStatistics()  // it was queued; counted out before its caller resumes
            perform(action)
        default:
            perform(action)
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

    private func error(_ failure: GRPCConnectionStateMachine.Failure, _ stream: GRPCStream) -> EtcdError {
        EtcdError.call(failure, path: stream.path, endpoint: endpoint, lastError: lastError)
    }

    /// The call on `streamID`, while the state machine tracks its stream.
    private func stream(on streamID: Int32) -> GRPCStream? {
        machine.call(onStream: streamID).flatMap { calls[$0] }
    }

    // MARK: Actions

    /// Carries out what the state machine returned.
    private func perform(_ action: GRPCConnectionStateMachine.Action) {
        switch action {
        case .none:
            break
        case .connectionReady:
            if let ready {
                self.ready = nil
                ready.succeed()
            }
        case .startStream(let id, let grpcTimeout, let deadline):
            if let deadline { armDeadlineTimer(deadline) }
            if let stream = calls[id] { submit(stream, grpcTimeout: grpcTimeout) }
        case .queued(let deadline):
            if let deadline { armDeadlineTimer(deadline) }
            updateStatistics()
        case .failCall(let id, let failure):
            fail(id, failure, resetStreamID: nil)
        case .resetStream(let id, let streamID, let failure):
            fail(id, failure, resetStreamID: streamID)
        case .finishStream(let id, let end):
            guard let stream = calls.removeValue(forKey: id) else { return }
            finish(stream, error: EtcdError.streamEnded(end, grpcStatus: stream.grpcStatus, grpcMessage: stream.grpcMessage,
                                                        httpStatus: stream.httpStatus, path: stream.path, endpoint: endpoint))
        case .failCalls(let failures, let deadline):
            // The statistics first: a caller that resumes sees its call counted out.
            updateStatistics()
            for failure in failures { fail(failure.call, failure.failure, resetStreamID: failure.resetStreamID) }
            if let deadline { armDeadlineTimer(deadline) }
        case .sendPing:
            guard let session else { return }
            nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
            flush()
            pingTimeout = eventLoop.scheduleTask(in: .init(settings.keepAliveTimeout)) { [weak self] in
                guard let self else { return }
                self.perform(self.machine.pingTimeoutFired())
            }
        case .cancelPingTimeout:
            pingTimeout?.cancel()
            pingTimeout = nil
        case .closeConnection(.keepAliveTimeout):
            lastError = EtcdError.keepAliveTimedOut(endpoint: endpoint, timeout: settings.keepAliveTimeout)
            context?.close(promise: nil)
        }
    }

    /// Reports `failure` to the call; with `resetStreamID`, RST_STREAM(CANCEL) is submitted (the
    /// caller flushes). The state machine has forgotten the stream already, so nghttp2's close of
    /// it is not reported as a reset by the server.
    private func fail(_ id: GRPCConnectionStateMachine.CallID, _ failure: GRPCConnectionStateMachine.Failure,
                      resetStreamID: Int32?) {
        guard let stream = calls.removeValue(forKey: id) else { return }
        finish(stream, error: error(failure, stream))
        if let resetStreamID, let session {
            nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), resetStreamID, NGHTTP2_CANCEL.rawValue)
        }
    }

    /// Starts queued calls while the server allows more streams.
    private func drainQueue() {
        while true {
            let action = machine.nextQueuedCall(now: .now())
            if action == .none { break }
            perform(action)
        }
        updateStatistics()
    }

    /// Hands the call to nghttp2: HEADERS now, DATA from `stream.outbound`, `grpcTimeout` as
    /// grpc-timeout (a call sent at once sends its whole timeout, whose encoded header is shared
    /// by most calls; one that waited in the queue the time it has left).
    private func submit(_ stream: GRPCStream, grpcTimeout: Duration?) {
        guard let session else { return }
        let metadata = stream.metadata
        stream.metadata = []
        // Headers: :path, then the connection's fixed block, grpc-timeout and the metadata, each
        // encoded once where it can be (nghttp2 copies names and values during submit).
        let fixed = fixedHeaders
        let timeoutBlock = grpcTimeout.map { timeoutHeader($0) }
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
            perform(machine.streamStartFailed(stream.callID, code: streamID))
            return
        }
        stream.streamID = streamID
        perform(machine.streamStarted(stream.callID, streamID: streamID))
    }

    private func requestHeadersSent(streamID: Int32) {
        perform(machine.requestHeadersSent(streamID: streamID))
        updateStatistics()
    }

    private func updateStatistics() {
        let open = machine.openStreamCount, queued = machine.queuedCallCount, limit = machine.peerStreamLimit
        statistics.withLockedValue { stats in
            stats.open = open
            stats.maxOpen = max(stats.maxOpen, open)
            stats.queued = queued
            stats.maxQueued = max(stats.maxQueued, queued)
            stats.peerLimit = limit
        }
    }

    private func armDeadlineTimer(_ deadline: NIODeadline) {
        deadlineTimer?.cancel()
        deadlineTimer = eventLoop.scheduleTask(deadline: deadline) { [weak self] in self?.deadlineTimerFired() }
    }

    /// Fails the calls past their deadline (the state machine re-arms the timer for the next one).
    private func deadlineTimerFired() {
        deadlineTimer = nil
        let action = machine.deadlineTimerFired(now: .now())
        perform(action)
        if case .failCalls(let failures, _) = action, failures.contains(where: { $0.resetStreamID != nil }) {
            flush()
        }
    }

    private func timeoutHeader(_ timeout: Duration) -> GRPCHeaderBlock {
        if let last = lastTimeoutHeader, last.timeout == timeout { return last.block }
        let block = GRPCHeaderBlock([("grpc-timeout", GRPCFraming.timeoutHeader(timeout))])
        lastTimeoutHeader = (timeout, block)
        return block
    }

    // MARK: nghttp2 callbacks (event loop, inside mem_recv / mem_send)

    private func readRequestBody(streamID: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int,
                                 flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let stream = stream(on: streamID) else {
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
        guard let stream = stream(on: streamID) else { return }
        switch name {
        case ":status": stream.httpStatus = Int(value)
        case "grpc-status": stream.grpcStatus = Int(value)
        case "grpc-message": stream.grpcMessage = GRPCFraming.percentDecode(value)
        default: break
        }
    }

    private func receivedData(streamID: Int32, _ data: UnsafeBufferPointer<UInt8>) {
        guard let stream = stream(on: streamID), !stream.finished else { return }
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
                rstAndFinish(stream, .messageTooLarge(size: size, limit: settings.maxMessageSize))
                return
            case .compressed:
                rstAndFinish(stream, .compressedMessage)
                return
            }
        }
    }

    /// Inside a callback: RST the stream (sent by the next flush) and report `failure`.
    private func rstAndFinish(_ stream: GRPCStream, _ failure: GRPCConnectionStateMachine.Failure) {
        perform(machine.cancelCall(stream.callID, failure))
        eventLoop.execute { self.flush() }
    }

    private func streamClosed(streamID: Int32, errorCode: UInt32) {
        // The slot is free now (queued calls start at the next flush), whether or not we still track the call.
        let action = machine.streamClosed(streamID: streamID, errorCode: errorCode, now: .now())
        updateStatistics()
        perform(action)
    }

    private func receivedFrame(_ frame: nghttp2_frame) {
        switch UInt32(frame.hd.type) {
        case NGHTTP2_SETTINGS.rawValue:
            guard let session else { return }
            let action = machine.settingsReceived(
                maxConcurrentStreams: nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS))
            updateStatistics()
            perform(action)
        case NGHTTP2_PING.rawValue:
            if frame.hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 {
                perform(machine.pingAcked())
            }
        case NGHTTP2_GOAWAY.rawValue:
            usable.withLockedValue { $0 = false }
            // Calls still waiting for a slot were never sent: they fail as not processed and are
            // retried on a new connection. (nghttp2 itself closes the sent streams above
            // last-stream-id with REFUSED_STREAM, which ``streamClosed`` reports the same way.)
            perform(machine.goAwayReceived(lastStreamID: frame.goaway.last_stream_id))
            logger.debug("etcd sent GOAWAY", metadata: [
                "etcd.endpoint": "\(endpoint)", "etcd.last-stream-id": "\(frame.goaway.last_stream_id)",
                "etcd.error-code": "\(frame.goaway.error_code)",
            ])
        default:
            break
        }
    }

    // MARK: Output

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
                lastError = EtcdError.http2SendFailed(Int32(n), endpoint: endpoint)
                context.close(promise: nil)
                return
            }
            if n == 0 {
                // Streams closed while sending (RST_STREAM) freed slots for queued calls.
                if machine.canStartQueuedCall {
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
