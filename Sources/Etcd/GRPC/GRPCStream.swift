import NIOCore

/// One gRPC call on a ``GRPCConnection``: a unary call or a bidirectional stream.
///
/// All mutable state is touched only on the connection's event loop (the callbacks run there
/// too), which is why the class can be `@unchecked Sendable`; `send`, `finishSending` and
/// `cancel` hop to that loop.
final class GRPCStream: @unchecked Sendable {
    let path: String
    let connection: GRPCConnection
    /// Called on the event loop with each complete response message.
    var onMessage: ([UInt8]) -> Void = { _ in }
    /// Called once on the event loop when the call ends: `nil` on grpc-status 0.
    var onClose: (EtcdError?) -> Void = { _ in }

    // Event-loop state.
    var streamID: Int32 = -1
    var outbound: [UInt8] = []
    var outboundOffset = 0
    var endOfRequest = false
    var deferred = false
    var inbound: [UInt8] = []
    var inboundOffset = 0
    var grpcStatus: Int?
    var grpcMessage: String?
    var httpStatus: Int?
    var started = false
    /// Waiting in the connection's queue for a free stream slot (the server's
    /// SETTINGS_MAX_CONCURRENT_STREAMS); no stream ID yet, nothing sent.
    var queued = false
    /// The call's metadata, kept until the call leaves the queue.
    var metadata: [(String, String)] = []
    var finished = false
    var cancelRequested = false
    /// The call's timeout (its deadline is checked by the connection's one deadline timer).
    var timeout: Duration?
    /// When the call's deadline passes (also sent to the server as grpc-timeout).
    var deadlineAt: NIODeadline?

    init(path: String, connection: GRPCConnection) {
        self.path = path
        self.connection = connection
    }

    /// Queues one request message (framed here) and, with `end`, half-closes the request side.
    func send(_ message: [UInt8], end: Bool = false) {
        let framed = GRPCFraming.frame(message)
        connection.eventLoop.execute {
            self.connection.queue(framed, end: end, on: self)
        }
    }

    /// Cancels the call: RST_STREAM(CANCEL) to the server, and `onClose(.cancelled)` if still open.
    func cancel() {
        connection.eventLoop.execute {
            self.connection.cancel(self, error: EtcdError(code: .cancelled, message: "the call was cancelled",
                                                          endpoint: self.connection.endpoint.description))
        }
    }

    /// Pending request bytes not yet handed to nghttp2.
    var pendingOutbound: Int { outbound.count - outboundOffset }
}

/// gRPC's length-prefixed message framing: 1 byte compressed flag, 4 bytes big-endian length.
enum GRPCFraming {
    static func frame(_ message: [UInt8]) -> [UInt8] {
        var framed = [UInt8]()
        framed.reserveCapacity(message.count + 5)
        framed.append(0)
        let n = UInt32(message.count)
        framed.append(UInt8(truncatingIfNeeded: n >> 24))
        framed.append(UInt8(truncatingIfNeeded: n >> 16))
        framed.append(UInt8(truncatingIfNeeded: n >> 8))
        framed.append(UInt8(truncatingIfNeeded: n))
        framed.append(contentsOf: message)
        return framed
    }

    enum Next: Equatable {
        case message([UInt8])
        case needMoreData
        case tooLarge(Int)
        case compressed
    }

    /// Takes the next complete message out of `buffer[offset...]`, advancing `offset`.
    static func next(_ buffer: [UInt8], offset: inout Int, maxMessageSize: Int) -> Next {
        let available = buffer.count - offset
        guard available >= 5 else { return .needMoreData }
        if buffer[offset] != 0 { return .compressed }
        let length = Int(buffer[offset + 1]) << 24 | Int(buffer[offset + 2]) << 16
            | Int(buffer[offset + 3]) << 8 | Int(buffer[offset + 4])
        if length > maxMessageSize { return .tooLarge(length) }
        guard available >= 5 + length else { return .needMoreData }
        let message = Array(buffer[(offset + 5)..<(offset + 5 + length)])
        offset += 5 + length
        return .message(message)
    }

    /// `grpc-timeout` header value for a duration: at most 8 digits, in milliseconds or seconds.
    static func timeoutHeader(_ duration: Duration) -> String {
        let ms = max(1, duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        if ms < 100_000_000 { return "\(ms)m" }
        return "\(min(99_999_999, ms / 1000))S"
    }

    /// Decodes the percent-encoding of `grpc-message`.
    static func percentDecode(_ value: String) -> String {
        var bytes = [UInt8]()
        var utf8 = Array(value.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let decoded = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(decoded)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
