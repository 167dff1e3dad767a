import NIOCore

/// The protocol state of one ``GRPCConnection``: its open streams, the calls waiting under the
/// server's SETTINGS_MAX_CONCURRENT_STREAMS, GOAWAY, per-call deadlines and the keepalive PING.
///
/// Pure: no I/O, no nghttp2, no clock (the caller passes `now`). Each event returns the one
/// ``Action`` the connection carries out.
struct GRPCConnectionStateMachine {
    /// A call's identity on this connection, assigned by the connection when it starts the call.
    typealias CallID = Int

    /// Why a call fails; ``EtcdError/call(_:path:endpoint:lastError:)`` makes the error.
    enum Failure: Equatable, Sendable {
        /// Cancelled by the caller.
        case cancelled
        /// Started on a connection that is closing or got GOAWAY (not sent).
        case connectionClosing
        /// Waiting for a stream slot when GOAWAY arrived (not sent).
        case goAwayBeforeSending
        /// Its deadline passed while it waited for a stream slot (not sent).
        case deadlineWhileQueued(timeout: Duration, peerStreamLimit: UInt32)
        /// It left the queue with no time left (not sent).
        case deadlineBeforeSending
        /// Its deadline passed on an open stream.
        case deadlineExceeded(timeout: Duration)
        /// nghttp2 refused to submit the request (its error code).
        case startFailed(Int32)
        /// A response message over the size limit.
        case messageTooLarge(size: Int, limit: Int)
        /// A compressed response message.
        case compressedMessage
        /// The connection closed while the stream was open.
        case connectionLost
        /// The connection closed after GOAWAY, on a stream at or below its last-stream-id.
        case connectionLostAfterGoAway
        /// The connection closed while the call waited for a stream slot (not sent).
        case connectionLostBeforeSending
    }

    /// Why the state machine closes the connection.
    enum CloseReason: Equatable, Sendable {
        /// The keepalive PING was not answered in time.
        case keepAliveTimeout
    }

    /// How nghttp2 closed a tracked stream; the response headers decide the rest.
    enum StreamEnd: Equatable, Sendable {
        /// Closed without an error code.
        case noError
        /// RST_STREAM(REFUSED_STREAM), also GOAWAY's for streams above its last-stream-id.
        case refused
        /// RST_STREAM(CANCEL) just before the call's deadline: the server gave up at grpc-timeout.
        case cancelledAtDeadline
        /// Any other RST_STREAM error code.
        case reset(UInt32)
    }

    /// One call to fail; `resetStreamID` is set when its stream is open and must be reset.
    struct CallFailure: Equatable, Sendable {
        var call: CallID
        var failure: Failure
        var resetStreamID: Int32?
    }

    enum Action: Equatable, Sendable {
        case none
        /// The server's first SETTINGS arrived.
        case connectionReady
        /// Submit the call's HEADERS (sending `grpcTimeout` as grpc-timeout), then report
        /// ``streamStarted(_:streamID:)`` or ``streamStartFailed(_:code:)``.
        case startStream(CallID, grpcTimeout: Duration?, armDeadlineTimer: NIODeadline?)
        /// The call waits for a stream slot.
        case queued(armDeadlineTimer: NIODeadline?)
        /// Report `Failure` to a call that has no open stream.
        case failCall(CallID, Failure)
        /// Send RST_STREAM(CANCEL) on `streamID` and report `Failure` to the call.
        case resetStream(CallID, streamID: Int32, Failure)
        /// nghttp2 closed the call's stream: report its outcome.
        case finishStream(CallID, StreamEnd)
        /// Fail these calls in order, then (re)arm the deadline timer if a time is given.
        case failCalls([CallFailure], armDeadlineTimer: NIODeadline?)
        /// Send a keepalive PING and start its timeout.
        case sendPing
        /// The PING was answered: stop its timeout.
        case cancelPingTimeout
        /// Close the connection for this reason (open calls fail at ``channelInactive()``).
        case closeConnection(CloseReason)
    }

    /// HTTP/2 error codes (RFC 9113 section 7).
    static let refusedStream: UInt32 = 0x7
    static let cancel: UInt32 = 0x8
    /// A CANCEL this close to the deadline is the server's grpc-timeout, not a reset.
    static let serverDeadlineSlack = TimeAmount.milliseconds(200)

    private enum Phase: Equatable {
        case idle
        case open
        case goingAway(lastStreamID: Int32)
        case closed
    }

    private struct Call {
        var streamID: Int32?
        var timeout: Duration?
        var deadline: NIODeadline?
    }

    private var phase = Phase.idle
    private var calls: [CallID: Call] = [:]
    /// Started calls by stream ID, until closed, reset or failed.
    private var streams: [Int32: CallID] = [:]
    /// Calls waiting for a stream slot, oldest first: they have no stream ID yet, so GOAWAY and
    /// connection loss fail them as not processed.
    private var queue = CircularBuffer<CallID>()
    /// Streams submitted and not yet closed by nghttp2: they count against the limit (a reset
    /// stream stays here until nghttp2 closes it).
    private var submitted = Set<Int32>()
    /// Streams whose request HEADERS went out and that are not closed yet.
    private var onWire = Set<Int32>()
    private var receivedSettings = false
    private var pingOutstanding = false
    private var deadlineTimerAt: NIODeadline?

    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS (`UInt32.max` until it sets one).
    private(set) var peerStreamLimit: UInt32 = .max
    /// Streams whose HEADERS were sent and that are not closed.
    var openStreamCount: Int { onWire.count }
    /// Calls waiting for a stream slot.
    var queuedCallCount: Int { queue.count }

    /// The call on `streamID`, while its stream is tracked.
    func call(onStream streamID: Int32) -> CallID? { streams[streamID] }

    /// Whether ``nextQueuedCall(now:)`` would start (or fail) a queued call.
    var canStartQueuedCall: Bool {
        !queue.isEmpty && phase == .open && submitted.count < Int(peerStreamLimit)
    }

    // MARK: Connection

    /// The nghttp2 session exists.
    mutating func channelActive() -> Action {
        if phase == .idle { phase = .open }
        return .none
    }

    /// A SETTINGS frame arrived; `maxConcurrentStreams` is the server's value now in effect.
    mutating func settingsReceived(maxConcurrentStreams: UInt32) -> Action {
        peerStreamLimit = maxConcurrentStreams
        guard !receivedSettings else { return .none }
        receivedSettings = true
        return .connectionReady
    }

    /// GOAWAY: calls still queued fail as not processed. Open streams continue; nghttp2 closes
    /// those above `lastStreamID` with REFUSED_STREAM.
    mutating func goAwayReceived(lastStreamID: Int32) -> Action {
        switch phase {
        case .closed:
            return .none
        case .goingAway(let last):
            phase = .goingAway(lastStreamID: min(last, lastStreamID))
        case .idle, .open:
            phase = .goingAway(lastStreamID: lastStreamID)
        }
        var failures: [CallFailure] = []
        while let id = queue.popFirst() {
            calls[id] = nil
            failures.append(CallFailure(call: id, failure: .goAwayBeforeSending))
        }
        return .failCalls(failures, armDeadlineTimer: nil)
    }

    /// The channel is gone: every call fails, open ones first (by stream ID), then queued ones.
    mutating func channelInactive() -> Action {
        var lastStreamID: Int32?
        if case .goingAway(let last) = phase { lastStreamID = last }
        phase = .closed
        var failures: [CallFailure] = []
        for (streamID, id) in streams.sorted(by: { $0.key < $1.key }) {
            let processed = lastStreamID.map { streamID <= $0 } ?? false
            failures.append(CallFailure(call: id, failure: processed ? .connectionLostAfterGoAway : .connectionLost))
        }
        while let id = queue.popFirst() {
            failures.append(CallFailure(call: id, failure: .connectionLostBeforeSending))
        }
        calls.removeAll()
        streams.removeAll()
        submitted.removeAll()
        onWire.removeAll()
        deadlineTimerAt = nil
        pingOutstanding = false
        return .failCalls(failures, armDeadlineTimer: nil)
    }

    // MARK: Calls

    /// A new call: starts it now if a stream slot is free and no call waits, else queues it.
    /// `timeout` bounds the whole call, time in the queue included.
    mutating func startCall(_ id: CallID, timeout: Duration?, now: NIODeadline) -> Action {
        guard phase == .open else { return .failCall(id, .connectionClosing) }
        let deadline = timeout.map { now + TimeAmount($0) }
        calls[id] = Call(timeout: timeout, deadline: deadline)
        var arm: NIODeadline?
        if let deadline, deadlineTimerAt.map({ deadline < $0 }) ?? true {
            deadlineTimerAt = deadline
            arm = deadline
        }
        if queue.isEmpty && submitted.count < Int(peerStreamLimit) {
            return .startStream(id, grpcTimeout: timeout, armDeadlineTimer: arm)
        }
        queue.append(id)
        return .queued(armDeadlineTimer: arm)
    }

    /// The oldest queued call, if a slot is free: `.startStream` with the time it has left, or
    /// `.failCall` when it has none; `.none` when nothing can start.
    mutating func nextQueuedCall(now: NIODeadline) -> Action {
        while canStartQueuedCall {
            let id = queue.removeFirst()
            guard let call = calls[id] else { continue }
            var grpcTimeout = call.timeout
            if let deadline = call.deadline {
                let left = deadline - now
                guard left.nanoseconds > 0 else {
                    calls[id] = nil
                    return .failCall(id, .deadlineBeforeSending)
                }
                grpcTimeout = .nanoseconds(left.nanoseconds)
            }
            return .startStream(id, grpcTimeout: grpcTimeout, armDeadlineTimer: nil)
        }
        return .none
    }

    /// nghttp2 accepted the call as `streamID`.
    mutating func streamStarted(_ id: CallID, streamID: Int32) -> Action {
        guard calls[id] != nil else { return .none }
        calls[id]?.streamID = streamID
        streams[streamID] = id
        submitted.insert(streamID)
        return .none
    }

    /// nghttp2 refused to submit the call (`code`, an nghttp2 error).
    mutating func streamStartFailed(_ id: CallID, code: Int32) -> Action {
        guard calls.removeValue(forKey: id) != nil else { return .none }
        return .failCall(id, .startFailed(code))
    }

    /// The request HEADERS of `streamID` were written.
    mutating func requestHeadersSent(streamID: Int32) -> Action {
        onWire.insert(streamID)
        return .none
    }

    /// nghttp2 closed `streamID` with HTTP/2 `errorCode`; its slot is free either way.
    mutating func streamClosed(streamID: Int32, errorCode: UInt32, now: NIODeadline) -> Action {
        submitted.remove(streamID)
        onWire.remove(streamID)
        guard let id = streams.removeValue(forKey: streamID) else { return .none }
        let call = calls.removeValue(forKey: id)
        switch errorCode {
        case 0:
            return .finishStream(id, .noError)
        case Self.refusedStream:
            return .finishStream(id, .refused)
        case Self.cancel:
            if let deadline = call?.deadline, now + Self.serverDeadlineSlack >= deadline {
                return .finishStream(id, .cancelledAtDeadline)
            }
            return .finishStream(id, .reset(errorCode))
        default:
            return .finishStream(id, .reset(errorCode))
        }
    }

    /// The client ends a call with `failure` (cancellation, a bad response message): a queued
    /// call leaves the queue, an open one is reset. `.none` when the call is not known (not
    /// started yet, or already over).
    mutating func cancelCall(_ id: CallID, _ failure: Failure) -> Action {
        guard let call = calls.removeValue(forKey: id) else { return .none }
        if let streamID = call.streamID {
            streams[streamID] = nil
            return .resetStream(id, streamID: streamID, failure)
        }
        if let index = queue.firstIndex(of: id) { queue.remove(at: index) }
        return .failCall(id, failure)
    }

    /// The deadline timer fired: calls past their deadline fail (queued ones first, then open
    /// ones by stream ID, which are reset), and the timer is re-armed for the earliest remaining.
    mutating func deadlineTimerFired(now: NIODeadline) -> Action {
        deadlineTimerAt = nil
        var failures: [CallFailure] = []
        var next: NIODeadline?
        func isPast(_ call: Call) -> Bool {
            guard let deadline = call.deadline else { return false }
            if deadline <= now { return true }
            if next.map({ deadline < $0 }) ?? true { next = deadline }
            return false
        }
        for id in queue {
            guard let call = calls[id], isPast(call) else { continue }
            failures.append(CallFailure(call: id, failure: .deadlineWhileQueued(timeout: call.timeout ?? .zero,
                                                                                  peerStreamLimit: peerStreamLimit)))
        }
        var expiredOpen: [(streamID: Int32, failure: CallFailure)] = []
        for (streamID, id) in streams {
            guard let call = calls[id], isPast(call) else { continue }
            expiredOpen.append((streamID, CallFailure(call: id, failure: .deadlineExceeded(timeout: call.timeout ?? .zero),
                                                      resetStreamID: streamID)))
        }
        failures += expiredOpen.sorted(by: { $0.streamID < $1.streamID }).map(\.failure)
        for failure in failures {
            calls[failure.call] = nil
            if let streamID = failure.resetStreamID {
                streams[streamID] = nil
            } else if let index = queue.firstIndex(of: failure.call) {
                queue.remove(at: index)
            }
        }
        deadlineTimerAt = next
        return .failCalls(failures, armDeadlineTimer: next)
    }

    // MARK: Keepalive

    /// The keepalive interval passed: PING unless one is still unanswered.
    mutating func keepAliveTimerFired() -> Action {
        switch phase {
        case .open, .goingAway:
            guard !pingOutstanding else { return .none }
            pingOutstanding = true
            return .sendPing
        case .idle, .closed:
            return .none
        }
    }

    /// A PING ACK arrived.
    mutating func pingAcked() -> Action {
        guard pingOutstanding else { return .none }
        pingOutstanding = false
        return .cancelPingTimeout
    }

    /// The PING's timeout passed without an ACK: the connection is dead. (No further PING is
    /// sent; the connection is closing.)
    mutating func pingTimeoutFired() -> Action {
        guard pingOutstanding, phase != .closed else { return .none }
        return .closeConnection(.keepAliveTimeout)
    }
}
