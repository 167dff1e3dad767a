import NIOCore
import NIOPosix

/// A real loopback listener for probe tests: accepts TCP connections and answers HTTP requests
/// with `status`.
final class LoopbackListener: Sendable {
    let channel: any Channel
    let port: Int

    var address: String { "127.0.0.1:\(port)" }

    static func start(status: Int = 200) async throws -> LoopbackListener {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(status: status))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return LoopbackListener(channel: channel, port: channel.localAddress!.port!)
    }

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    func close() async {
        try? await channel.close()
    }

    /// A loopback address nothing listens on (a port just bound and released).
    static func deadAddress() async throws -> String {
        let listener = try await start()
        await listener.close()
        return listener.address
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let status: Int
        var received = 0
        init(status: Int) { self.status = status }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received += buffer.readableBytes
            guard buffer.readableBytesView.contains(UInt8(ascii: "\n")) else { return }
            let response = "HTTP/1.1 \(status) X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in
                bound.value.close(promise: nil)
            }
        }
    }
}
