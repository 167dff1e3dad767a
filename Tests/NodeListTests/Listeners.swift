import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// A real loopback listener for probe tests: accepts TCP connections and answers HTTP requests
/// with `status`.
final class LoopbackListener: Sendable {
    let channel: any Channel
    let port: Int

    var address: String { "127.0.0.1:\(port)" }

    static func start(status: Int = 200, port: Int = 0) async throws -> LoopbackListener {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(status: status))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        return LoopbackListener(channel: channel, port: channel.localAddress!.port!)
    }

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    func close() async {
        try? await channel.close()
    }

    /// A loopback address that refuses connections: a port bound but never listened on, held
    /// for the rest of the test process so that no parallel test's listener can reuse it.
    static func deadAddress() async throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0, "socket() failed")
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, length) == 0 && getsockname(fd, sa, &length) == 0
            }
        }
        precondition(bound, "bind() failed")
        return "127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
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
