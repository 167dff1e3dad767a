import ArgumentParser
import AutoCluster
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// `autocluster run`: a long-running member.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a member: listen on ADDRESS (so probes succeed), join, refresh, leave on SIGINT/SIGTERM.")

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var node: NodeOptions
    @OptionGroup var probe: ProbeOptions

    @Option(help: "How often the list is re-read (e.g. 5s).")
    var refresh: String = "5s"

    @Option(help: "Listed nodes (this one included) that must respond before the member reports ready.")
    var quorum: Int = 1

    func run() async throws {
        try await runReportingErrors {
            let me = try node.node()
            let refreshInterval = try parseDuration(refresh, flag: "--refresh")
            guard let (host, port) = me.hostAndPort else {
                throw ValidationError("--address \"\(me.address)\" is not HOST:PORT")
            }
            let listener = try await ProbeResponder.bind(host: host, port: port)
            do {
                try await storeOptions.withStore(probe: probe) { store in
                    var logger = storeOptions.logger("autocluster.run")
                    logger.logLevel = min(storeOptions.level, .info)
                    let service = NodeListService(
                        store: store, node: me, refreshInterval: refreshInterval, quorum: quorum, logger: logger)
                    let reporter = ReadyReporter(service: service, node: me)
                    let group = ServiceGroup(
                        configuration: .init(
                            services: [
                                .init(service: service),
                                .init(service: reporter, successTerminationBehavior: .ignore),
                            ],
                            gracefulShutdownSignals: [.sigterm, .sigint],
                            logger: logger))
                    try await group.run()
                }
            } catch {
                try? await listener.close()
                throw error
            }
            try? await listener.close()
            FileHandleOutput.standardOutput("\(me.name) stopped\n")
        }
    }
}

/// Prints one line when the member is listed and ready.
struct ReadyReporter: Service {
    let service: NodeListService
    let node: ClusterNode

    func run() async throws {
        try? await cancelWhenGracefulShutdown { try await service.waitUntilReady() }
        guard !Task.isCancelled, let outcome = service.lastJoin else { return }
        FileHandleOutput.standardOutput(
            "\(node.name) ready at \(node.address): \(outcome.created ? "created the list" : "joined"), "
                + "seed \(outcome.seed?.description ?? "none"), swept \(Render.names(outcome.swept)), \(outcome.nodes.count) node(s)\n")
    }
}

/// Accepts connections on the member's address and answers any request with `200 OK`, so both
/// `--probe tcp` and `--probe http:/…` see the member alive.
enum ProbeResponder {
    static func bind(host: String, port: Int) async throws -> any Channel {
        do {
            return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Handler()) }
                }
                .bind(host: host, port: port).get()
        } catch {
            throw ValidationError("cannot listen on \(host):\(port): \(error) — is the port in use?")
        }
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private var received: [UInt8] = []

        /// Whether `bytes` hold a blank line (the end of an HTTP request head).
        static func endsHead(_ bytes: [UInt8]) -> Bool {
            let head: [UInt8] = [13, 10, 13, 10]
            guard bytes.count >= head.count else { return false }
            for start in 0...(bytes.count - head.count) where Array(bytes[start..<(start + head.count)]) == head {
                return true
            }
            return false
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received += buffer.readBytes(length: buffer.readableBytes) ?? []
            // Answer once the request head is complete (or at once for anything that is not HTTP).
            guard received.count > 4096 || Self.endsHead(received) else { return }
            let body = "ok\n"
            let response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in
                bound.value.close(promise: nil)
            }
        }
    }
}

