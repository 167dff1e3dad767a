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
    /// The call's identity in the connection's state machine, from `start` on (-1 before).
    var callID: GRPCConnectionStateMachine.CallID = -1
    /// The call's metadata, kept until the call leaves the queue.
    var metadata: [(String, String)] = []
    var finished = false
    var cancelRequested = false

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
            self.connection.cancel(self, .cancelled)
        }
    }

    /// Pending request bytes not yet handed to nghttp2.
    var pendingOutbound: Int { outbound.count - outboundOffset }
}
