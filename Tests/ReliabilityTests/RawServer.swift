import StoreTestSupport

/// A loopback TCP server that answers whatever it receives with bytes a scenario computes —
/// garbage, truncated frames, or nothing at all — to see how a client copes with a broken peer.
/// Every connection plays the same stateless scenario (see `ScriptedServer`).
typealias RawServer = ScriptedServer

extension ScriptedServer {
    /// Called with everything received so far on one connection and a per-connection cursor
    /// (starts at 0; the scenario advances it past what it handled). Returns bytes to send and
    /// whether to close the connection after sending them.
    typealias Scenario = @Sendable (_ input: [UInt8], _ cursor: inout Int) -> (reply: [UInt8], close: Bool)

    /// Starts a server on 127.0.0.1 on a port the kernel picks, every connection playing `scenario`.
    static func start(_ scenario: @escaping Scenario) async throws -> ScriptedServer {
        try await start(script: { scenario })
    }
}

extension H2 {
    /// A server scenario: completes the HTTP/2 handshake, then answers every request stream
    /// (once its request body ended) with `answer(stream)`; `closeAfter` closes the connection after answering.
    static func server(closeAfter: Bool = false, _ answer: @escaping @Sendable (UInt32) -> [UInt8]) -> RawServer.Scenario {
        { input, cursor in
            guard let (handshake, frames) = serverRead(input, &cursor) else { return ([], true) }
            var out = handshake
            var close = false
            // A request is complete at its DATA frame with END_STREAM.
            for frame in frames where frame.endsRequest {
                out += answer(frame.stream)
                if closeAfter { close = true }
            }
            return (out, close)
        }
    }
}
