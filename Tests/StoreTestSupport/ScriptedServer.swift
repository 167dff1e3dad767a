import NIOCore
import NIOPosix

/// A loopback TCP server whose every connection is played by a script: it hands the script
/// everything received so far on that connection and sends back whatever the script returns —
/// a well-formed answer, garbage, truncated frames or nothing at all — to see how a client
/// copes with a peer that the real stores cannot be made to imitate.
public final class ScriptedServer: Sendable {
    /// Plays one connection. Called once with an empty input when the connection opens
    /// (so a script can talk first or close at once), then again with everything received
    /// so far each time more bytes arrive. `cursor` is the connection's own (starts at 0;
    /// the script advances it past what it handled). Returns the bytes to send and whether
    /// to close the connection after sending them.
    public typealias Script = (_ input: [UInt8], _ cursor: inout Int) -> (reply: [UInt8], close: Bool)

    private let channel: any Channel
    /// The port the kernel picked on 127.0.0.1.
    public let port: Int

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    /// Starts a server on 127.0.0.1 on a port the kernel picks; `makeScript` is called once
    /// for each accepted connection, so a script may keep per-connection state of its own.
    public static func start(script makeScript: @escaping @Sendable () -> Script) async throws -> ScriptedServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(script: makeScript()))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ScriptedServer(channel: channel, port: channel.localAddress?.port ?? 0)
    }

    /// `127.0.0.1:<port>`.
    public var address: String { "127.0.0.1:\(port)" }

    /// Stops accepting connections (connections already open stay as their scripts leave them).
    public func stop() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let script: Script
        var input: [UInt8] = []
        var cursor = 0
        init(script: @escaping Script) { self.script = script }

        func channelActive(context: ChannelHandlerContext) {
            // Scripts that talk first (or close at once) see an empty input.
            respond(context: context)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            input += buffer.readBytes(length: buffer.readableBytes) ?? []
            respond(context: context)
        }

        private func respond(context: ChannelHandlerContext) {
            let (reply, close) = script(input, &cursor)
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
