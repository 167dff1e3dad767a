import NIOCore
import NIOPosix

/// A loopback TCP server that answers whatever it receives with bytes a scenario computes —
/// garbage, truncated frames, or nothing at all — to see how a client copes with a broken peer.
final class RawServer: Sendable {
    /// Called with everything received so far on one connection and a per-connection cursor
    /// (starts at 0; the scenario advances it past what it handled). Returns bytes to send and
    /// whether to close the connection after sending them.
    typealias Scenario = @Sendable (_ input: [UInt8], _ cursor: inout Int) -> (reply: [UInt8], close: Bool)

    private let channel: any Channel
    let port: Int

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    /// Starts a server on 127.0.0.1 on a port the kernel picks.
    static func start(_ scenario: @escaping Scenario) async throws -> RawServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(scenario: scenario))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return RawServer(channel: channel, port: channel.localAddress?.port ?? 0)
    }

    var address: String { "127.0.0.1:\(port)" }

    func stop() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let scenario: Scenario
        var input: [UInt8] = []
        var cursor = 0
        init(scenario: @escaping Scenario) { self.scenario = scenario }

        func channelActive(context: ChannelHandlerContext) {
            // Scenarios that talk first (or close at once) see an empty input.
            respond(context: context)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            input += buffer.readBytes(length: buffer.readableBytes) ?? []
            respond(context: context)
        }

        private func respond(context: ChannelHandlerContext) {
            let (reply, close) = scenario(input, &cursor)
            if !reply.isEmpty {
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)), promise: nil)
            }
            if close { context.close(promise: nil) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

/// Just enough HTTP/2 (RFC 9113) and gRPC framing to play a broken etcd.
enum H2 {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static func frame(type: UInt8, flags: UInt8, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff), type, flags,
                UInt8(stream >> 24 & 0x7f), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)] + payload
    }

    static let settings = frame(type: 4, flags: 0, stream: 0, [])
    static let settingsAck = frame(type: 4, flags: 1, stream: 0, [])

    /// An HPACK literal header field without indexing, new name (short strings only).
    static func literal(_ name: String, _ value: String) -> [UInt8] {
        let n = Array(name.utf8), v = Array(value.utf8)
        return [0x00, UInt8(n.count)] + n + [UInt8(v.count)] + v
    }

    /// `:status 200`, `content-type: application/grpc`.
    static func responseHeaders(stream: UInt32) -> [UInt8] {
        frame(type: 1, flags: 0x4, stream: stream, [0x88] + literal("content-type", "application/grpc"))
    }

    static func trailers(stream: UInt32, status: String, message: String? = nil) -> [UInt8] {
        var block = literal("grpc-status", status)
        if let message { block += literal("grpc-message", message) }
        return frame(type: 1, flags: 0x5, stream: stream, block)
    }

    /// A DATA frame carrying `payload` (already gRPC-framed or deliberately not).
    static func data(stream: UInt32, _ payload: [UInt8], endStream: Bool = false) -> [UInt8] {
        frame(type: 0, flags: endStream ? 1 : 0, stream: stream, payload)
    }

    /// A gRPC length prefix claiming `length` bytes, followed by `body`.
    static func grpcMessage(claimedLength length: UInt32, _ body: [UInt8]) -> [UInt8] {
        [0, UInt8(length >> 24 & 0xff), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + body
    }

    /// A server scenario: completes the HTTP/2 handshake, then answers every request stream
    /// (once its request body ended) with `answer(stream)`; `closeAfter` closes the connection after answering.
    static func server(closeAfter: Bool = false, _ answer: @escaping @Sendable (UInt32) -> [UInt8]) -> RawServer.Scenario {
        { input, cursor in
            var out: [UInt8] = []
            if cursor == 0 {
                guard input.count >= preface.count else { return ([], false) }
                guard Array(input[0..<preface.count]) == preface else { return ([], true) }
                cursor = preface.count
                out += settings + settingsAck
            }
            var close = false
            while input.count - cursor >= 9 {
                let length = Int(input[cursor]) << 16 | Int(input[cursor + 1]) << 8 | Int(input[cursor + 2])
                guard input.count - cursor >= 9 + length else { break }
                let type = input[cursor + 3], flags = input[cursor + 4]
                let stream = UInt32(input[cursor + 5] & 0x7f) << 24 | UInt32(input[cursor + 6]) << 16
                    | UInt32(input[cursor + 7]) << 8 | UInt32(input[cursor + 8])
                cursor += 9 + length
                // A request is complete at its DATA frame with END_STREAM.
                if type == 0, flags & 1 != 0 {
                    out += answer(stream)
                    if closeAfter { close = true }
                }
            }
            return (out, close)
        }
    }
}
