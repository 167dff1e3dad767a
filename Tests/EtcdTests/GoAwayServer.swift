import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A loopback HTTP/2 server that plays an etcd member shutting down: it takes `total` gRPC
/// requests (recording each stream ID with its request body), then answers the first
/// `answered` of them with an empty OK message, sends GOAWAY(last-stream-id, NO_ERROR) and
/// closes the connection — so the calls on streams ≤ last-stream-id were "maybe processed" and
/// those above it were, in the server's word, not processed.
final class GoAwayServer: Sendable {
    struct Request: Sendable {
        var streamID: UInt32
        var body: [UInt8]
    }

    private let channel: any Channel
    let port: Int
    private let requests: NIOLockedValueBox<[Request]>

    private init(channel: any Channel, port: Int, requests: NIOLockedValueBox<[Request]>) {
        self.channel = channel
        self.port = port
        self.requests = requests
    }

    /// The complete requests received so far, in arrival order.
    var received: [Request] { requests.withLockedValue { $0 } }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    static func start(total: Int, answered: Int, lastStreamID: UInt32) async throws -> GoAwayServer {
        let requests = NIOLockedValueBox<[Request]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(total: total, answered: answered, lastStreamID: lastStreamID, requests: requests))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return GoAwayServer(channel: channel, port: channel.localAddress?.port ?? 0, requests: requests)
    }

    func stop() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let total: Int, answered: Int, lastStreamID: UInt32
        let requests: NIOLockedValueBox<[Request]>
        var input: [UInt8] = []
        var cursor = 0
        var bodies: [UInt32: [UInt8]] = [:]
        var complete: [UInt32] = []
        var done = false

        init(total: Int, answered: Int, lastStreamID: UInt32, requests: NIOLockedValueBox<[Request]>) {
            self.total = total
            self.answered = answered
            self.lastStreamID = lastStreamID
            self.requests = requests
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            input += buffer.readBytes(length: buffer.readableBytes) ?? []
            guard !done else { return }
            var out: [UInt8] = []
            if cursor == 0 {
                guard input.count >= H2.preface.count else { return }
                guard Array(input[0..<H2.preface.count]) == H2.preface else {
                    context.close(promise: nil)
                    return
                }
                cursor = H2.preface.count
                out += H2.settings + H2.settingsAck
            }
            while input.count - cursor >= 9 {
                let length = Int(input[cursor]) << 16 | Int(input[cursor + 1]) << 8 | Int(input[cursor + 2])
                guard input.count - cursor >= 9 + length else { break }
                let type = input[cursor + 3], flags = input[cursor + 4]
                let stream = UInt32(input[cursor + 5] & 0x7f) << 24 | UInt32(input[cursor + 6]) << 16
                    | UInt32(input[cursor + 7]) << 8 | UInt32(input[cursor + 8])
                if type == 0 {
                    bodies[stream, default: []] += input[(cursor + 9)..<(cursor + 9 + length)]
                    if flags & 1 != 0 {
                        complete.append(stream)
                        let body = bodies[stream] ?? []
                        requests.withLockedValue { $0.append(Request(streamID: stream, body: body)) }
                    }
                }
                cursor += 9 + length
            }
            if complete.count >= total {
                done = true
                for stream in complete.prefix(answered) {
                    out += H2.responseHeaders(stream: stream) + H2.data(stream: stream, [0, 0, 0, 0, 0])
                        + H2.trailers(stream: stream, status: "0")
                }
                out += H2.goAway(lastStreamID: lastStreamID)
            }
            if !out.isEmpty {
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: out)), promise: nil)
            }
            if done { context.close(promise: nil) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

/// Just enough HTTP/2 (RFC 9113) framing to play a server that goes away.
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

    static func trailers(stream: UInt32, status: String) -> [UInt8] {
        frame(type: 1, flags: 0x5, stream: stream, literal("grpc-status", status))
    }

    static func data(stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        frame(type: 0, flags: 0, stream: stream, payload)
    }

    /// GOAWAY(last-stream-id, NO_ERROR).
    static func goAway(lastStreamID: UInt32) -> [UInt8] {
        let id = lastStreamID
        return frame(type: 7, flags: 0, stream: 0,
                     [UInt8(id >> 24 & 0x7f), UInt8(id >> 16 & 0xff), UInt8(id >> 8 & 0xff), UInt8(id & 0xff), 0, 0, 0, 0])
    }
}
