// A STAND-IN FOR CONSUL, NOT CONSUL.
//
// No Consul server can be installed on the machines this package is built on, so the
// Consul tests run against this in-process HTTP server whenever CONSUL_HTTP_ADDR is not set.
// It implements the parts of Consul's HTTP API that the ConsulClient uses, following
// Consul's documentation (Tests/README.md, "The Consul stand-in", lists which documentation section
// each modelled behaviour comes from). Passing tests against it say the client speaks the
// documented protocol; they are not a substitute for running the suite against a real Consul
// (`docker compose up consul`, then CONSUL_HTTP_ADDR=http://127.0.0.1:8500).
import NIOCore
import NIOHTTP1
import NIOPosix

/// An in-process HTTP server that models Consul's documented KV, session, blocking-query,
/// transaction, agent/health and ACL-token behaviour for tests. It is a stand-in, not Consul.
public final class ConsulStandIn: Sendable {
    /// How the stand-in behaves.
    public struct Options: Sendable {
        /// When set, every request must carry this token in `X-Consul-Token` (or `?token=`):
        /// without one Consul answers 403 "Permission denied", with an unknown one 403 "ACL not found".
        public var aclToken: String?
        /// The shortest session TTL accepted. Consul's is 10 seconds; tests lower it to run fast.
        public var minimumSessionTTL: Duration = .seconds(10)
        /// Consul invalidates a session up to twice its TTL after the last renewal
        /// (the TTL is a lower bound); the stand-in waits TTL × this. Default 2, as Consul.
        public var sessionTTLMultiplier: Double = 2
        /// The KV value size limit (`kv_max_value_size`), default 512 KiB.
        public var maximumValueSize: Int = 512 * 1024
        /// Wraps each accepted connection in TLS: return the server-side TLS handler
        /// (e.g. `NIOSSLServerHandler`). The address then starts with `https://`.
        public var tlsHandler: (@Sendable () throws -> any ChannelHandler)?

        /// Default options: no ACLs, plain HTTP, Consul's limits.
        public init() {}
    }

    private let channel: any Channel
    let core: StandInCore
    private let sweeper: RepeatedTask
    /// The stand-in's base URL: `"http://127.0.0.1:PORT"` (or `https://` with `tlsHandler`).
    public let address: String
    /// The port it listens on.
    public let port: Int

    private init(channel: any Channel, core: StandInCore, sweeper: RepeatedTask, address: String, port: Int) {
        self.channel = channel
        self.core = core
        self.sweeper = sweeper
        self.address = address
        self.port = port
    }

    /// Starts a stand-in listening on `host:port` (port 0: any free port).
    public static func start(host: String = "127.0.0.1", port: Int = 0) async throws -> ConsulStandIn {
        try await start(host: host, port: port, options: Options())
    }

    /// Starts a stand-in with `options`.
    public static func start(host: String = "127.0.0.1", port: Int = 0, options: Options) async throws
        -> ConsulStandIn
    {
        let group = MultiThreadedEventLoopGroup.singleton
        let core = StandInCore(options: options)
        let tlsHandler = options.tlsHandler
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                core.track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    if let tlsHandler {
                        try channel.pipeline.syncOperations.addHandler(try tlsHandler())
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(StandInHTTPHandler(core: core))
                }
            }
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port).get()
        let boundPort = channel.localAddress?.port ?? port
        let sweeper = group.next().scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) {
            _ in core.sweep()
        }
        let scheme = tlsHandler == nil ? "http" : "https"
        let urlHost = host.contains(":") ? "[\(host)]" : host
        return ConsulStandIn(
            channel: channel, core: core, sweeper: sweeper, address: "\(scheme)://\(urlHost):\(boundPort)",
            port: boundPort)
    }

    /// Stops listening and answers every waiting blocking query.
    public func shutdown() async throws {
        sweeper.cancel()
        core.shutdown()
        try await channel.close()
        // Then the accepted connections, so clients see the server go away.
        for connection in core.trackedConnections() {
            try? await connection.close()
        }
    }

    /// Simulates what Consul's documentation warns blocking-query clients about: the index going
    /// backwards (e.g. a snapshot restore). Every index in the store is clamped to at most `index`
    /// and the next write gets `index + 1`.
    public func simulateIndexReset(to index: UInt64) {
        core.resetIndex(to: index)
    }

    /// One request as the stand-in received it (for tests that check what a client sends).
    public struct RecordedRequest: Sendable {
        /// `GET`, `PUT`, …
        public var method: String
        /// The request target as sent: path and query, still percent-encoded.
        public var uri: String
        /// The request headers, in order.
        public var headers: [(name: String, value: String)]
        /// The request body.
        public var body: [UInt8]

        /// The first header named `name` (case-insensitive).
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// The last (up to 1000) requests received, oldest first.
    public var recordedRequests: [RecordedRequest] { core.recordedRequests }

    /// Simulates a cluster without a leader (an election in progress, lost quorum): while on,
    /// every request except `?stale` reads answers HTTP 500 "No cluster leader", as Consul does.
    public func simulateNoLeader(_ noLeader: Bool) {
        core.setNoLeader(noLeader)
    }

    /// The current Raft-like index of the stand-in (every write increments it).
    public var currentIndex: UInt64 { core.currentIndex }
}
