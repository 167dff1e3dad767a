import NIOConcurrencyHelpers
import NIOCore

extension GRPCConnection {
    /// One unary call: sends `request`, returns the single response message.
    /// Swift task cancellation sends RST_STREAM(CANCEL); `timeout` bounds the call.
    func unary(_ path: String, request: [UInt8], metadata: [(String, String)], timeout: Duration) async throws -> [UInt8] {
        let stream = GRPCStream(path: path, connection: self)
        let response = NIOLockedValueBox<[UInt8]?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
                stream.onMessage = { message in response.withLockedValue { $0 = message } }
                stream.onClose = { [endpoint] error in
                    if let error {
                        continuation.resume(throwing: error)
                    } else if let message = response.withLockedValue({ $0 }) {
                        continuation.resume(returning: message)
                    } else {
                        continuation.resume(throwing: EtcdError(code: .protocolError,
                                                                message: "etcd at \(endpoint) answered \(path) with status OK but no message",
                                                                endpoint: endpoint.description))
                    }
                }
                // The whole request is queued before the call starts, so its HEADERS and DATA
                // leave in the same write.
                stream.outbound = GRPCFraming.frame(request)
                stream.endOfRequest = true
                // Inline when the caller runs on the connection's loop (a task that prefers
                // EtcdClient.taskExecutor): no hop, the call's frames leave in this tick's flush.
                if self.eventLoop.inEventLoop {
                    self.start(stream, metadata: metadata, timeout: timeout)
                } else {
                    self.eventLoop.execute {
                        self.start(stream, metadata: metadata, timeout: timeout)
                    }
                }
            }
        } onCancel: {
            stream.cancel()
        }
    }

    /// Opens a bidirectional stream. Its response messages arrive on the returned sequence,
    /// which ends when the call ends (throwing the call's error, if any). Send with `stream.send`,
    /// end with `stream.cancel()`.
    func openStream(_ path: String, metadata: [(String, String)]) -> (GRPCStream, AsyncThrowingStream<[UInt8], any Error>) {
        let stream = GRPCStream(path: path, connection: self)
        let (messages, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        stream.onMessage = { continuation.yield($0) }
        stream.onClose = { error in
            if let error { continuation.finish(throwing: error) } else { continuation.finish() }
        }
        continuation.onTermination = { _ in stream.cancel() }
        eventLoop.execute {
            self.start(stream, metadata: metadata, timeout: nil)
        }
        return (stream, messages)
    }
}
