import Logging
import Metrics
#if DistributedTracingSupport
import Tracing
#endif
import NIOCore
import NIOSSL

extension EtcdClient {
    /// How an ``EtcdClient`` connects: endpoints, TLS, credentials, timeouts and retries.
    public struct Configuration: Sendable {
        /// The etcd client URLs: `http://host:port`, `https://host:port`, `etcd://host:port`,
        /// `etcds://host:port` (TLS) or `host:port`. The client uses one at a time and moves to
        /// the next when it fails. No default.
        public var endpoints: [String]
        /// TLS settings; `nil` (the default) means plain text unless an endpoint is `https://`
        /// or `etcds://`, which then use the default TLS settings (system trust roots).
        public var tls: TLS?
        /// User name and password for etcd's authentication; default `nil` (auth disabled).
        public var credentials: Credentials?
        /// Where the client logs (`.debug` for per-call detail). Default: a logger that discards everything.
        public var logger: Logger
        /// Where the client's metrics go (see the Metrics article): nil (the default) uses the
        /// bootstrapped `MetricsSystem.factory`.
        public var metricsFactory: (any MetricsFactory)? = nil
        #if DistributedTracingSupport
        /// Where the client's spans go: one client span per unary call (see the Tracing article).
        /// nil (the default) uses the bootstrapped `InstrumentationSystem.tracer`.
        public var tracer: (any Tracer)? = nil
        #endif
        /// Connect and per-call time limits. Default: `Timeouts/init(connect:request:)`.
        public var timeouts: Timeouts
        /// How often failed calls are retried. Default: ``Retry/init(maxAttempts:initialBackoff:maxBackoff:)``.
        public var retry: Retry
        /// HTTP/2 keepalive PINGs that detect a dead connection. Default: every 10 s, 5 s to answer.
        public var keepAlive: KeepAlive
        /// Largest request the client sends; larger ones are rejected before sending.
        /// Default 1.5 MiB (1,572,864 bytes), etcd's default `--max-request-bytes`.
        public var maxRequestSize: Int
        /// Largest response message the client accepts. Default 64 MiB.
        public var maxResponseSize: Int
        /// The most updates (events and progress notifications) one watch buffers for a consumer
        /// that has not taken them yet. Default 10,000.
        ///
        /// All watches of a client share one gRPC Watch stream, so a slow consumer must not hold
        /// the stream back: the client keeps reading it at full speed (HTTP/2 credit is returned
        /// as each message is handed to its watch) and bounds each watch instead. When this many
        /// updates are already waiting and etcd sends more, that watch ends by throwing
        /// ``EtcdError`` with code ``EtcdError/Code/watchFellBehind`` after the updates already
        /// buffered, and ``EtcdError/resumeRevision`` says where to watch again from; the other
        /// watches go on. A watch's memory is thus less than this many updates plus one watch
        /// response (never split: one revision for an up-to-date watch, at most 1,000 revisions
        /// when etcd replays history), times the size of an event.
        public var watchBufferLimit: Int
        /// Where the connections' event loop comes from: the client takes one loop of it
        /// (`next()`) at connect and runs every connection it makes on that loop
        /// (``EtcdClient/taskExecutor`` runs tasks there). Default `nil`:
        /// `MultiThreadedEventLoopGroup.singleton`.
        public var eventLoopGroup: (any EventLoopGroup)?
        /// How often the client replaces its endpoints by the cluster's member list
        /// (``EtcdClient/syncEndpoints()``). Default `nil`: never, only the configured endpoints are used.
        public var endpointSyncInterval: Duration?

        /// Creates a configuration.
        /// - Parameters:
        ///   - endpoints: etcd client URLs, e.g. `["http://127.0.0.1:2379"]`.
        ///   - tls: TLS settings, or `nil` for plain text (default).
        ///   - credentials: user name and password when etcd has auth enabled (default `nil`).
        public init(endpoints: [String], tls: TLS? = nil, credentials: Credentials? = nil) {
            self.endpoints = endpoints
            self.tls = tls
            self.credentials = credentials
            self.logger = Logger(label: "autocluster.etcd", factory: { _ in SwiftLogNoOpLogHandler() })
            self.timeouts = Timeouts()
            self.retry = Retry()
            self.keepAlive = KeepAlive()
            self.maxRequestSize = 1_572_864
            self.maxResponseSize = 64 << 20
            self.watchBufferLimit = 10_000
            self.eventLoopGroup = nil
            self.endpointSyncInterval = nil
        }
    }
}

extension EtcdClient.Configuration {
    /// Time limits. Every network operation has one, so nothing hangs on a stopped server.
    public struct Timeouts: Sendable {
        /// TCP connect plus the server's HTTP/2 SETTINGS, per endpoint. Default 3 s.
        public var connect: Duration
        /// One attempt of a unary call (sent as `grpc-timeout`, enforced by the client too). Default 5 s.
        public var request: Duration
        /// The whole of one unary call: every attempt, failover to other endpoints, reconnecting
        /// and the pauses between retries. When it passes, the call ends with `.deadlineExceeded`
        /// (the last attempt's error as ``EtcdError/underlying``). Default `nil`: no overall limit,
        /// so a call may take up to `retry.maxAttempts` × (connecting to the endpoints + `request`).
        /// ``EtcdClient/withDeadline(_:operation:)`` sets a deadline for the calls of one task.
        public var overall: Duration?

        /// Creates time limits.
        /// - Parameters:
        ///   - connect: per endpoint connect limit (default 3 s).
        ///   - request: per attempt call limit (default 5 s).
        ///   - overall: limit of a whole call across its retries (default `nil`: none).
        public init(connect: Duration = .seconds(3), request: Duration = .seconds(5), overall: Duration? = nil) {
            self.connect = connect
            self.request = request
            self.overall = overall
        }
    }

    /// Retries of calls that failed because a member was unavailable.
    public struct Retry: Sendable {
        /// Attempts per call, including the first. Default 5.
        public var maxAttempts: Int
        /// First pause between attempts (doubled each time, ±20 % jitter). Default 50 ms.
        public var initialBackoff: Duration
        /// Longest pause between attempts. Default 1 s.
        public var maxBackoff: Duration

        /// Creates a retry policy.
        /// - Parameters:
        ///   - maxAttempts: attempts per call including the first (default 5).
        ///   - initialBackoff: first pause (default 50 ms).
        ///   - maxBackoff: longest pause (default 1 s).
        public init(maxAttempts: Int = 5, initialBackoff: Duration = .milliseconds(50), maxBackoff: Duration = .seconds(1)) {
            self.maxAttempts = max(1, maxAttempts)
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }
    }

    /// HTTP/2 PING keepalive.
    public struct KeepAlive: Sendable {
        /// Pause between PINGs. Default 10 s.
        public var interval: Duration
        /// How long a PING may go unanswered before the connection is declared dead. Default 5 s.
        public var timeout: Duration

        /// Creates keepalive settings.
        /// - Parameters:
        ///   - interval: pause between PINGs (default 10 s).
        ///   - timeout: time to answer before the connection is dead (default 5 s).
        public init(interval: Duration = .seconds(10), timeout: Duration = .seconds(5)) {
            self.interval = interval
            self.timeout = timeout
        }
    }

    /// User name and password for etcd's authentication. The password never appears in
    /// errors, logs or `description`.
    public struct Credentials: Sendable, CustomStringConvertible {
        /// The etcd user.
        public var username: String
        /// The user's password.
        public var password: String

        /// Creates credentials.
        /// - Parameters:
        ///   - username: the etcd user.
        ///   - password: its password.
        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }

        public var description: String { "Credentials(username: \(username), password: ***)" }
    }

    /// TLS settings: by default the server certificate must chain to the trust roots and
    /// match the endpoint's host name (or IP address).
    public struct TLS: Sendable {
        /// PEM file of the CA certificates to trust. Default `nil`: the system's trust roots.
        public var caFile: String?
        /// PEM file of the client certificate chain, for mTLS. Default `nil`.
        public var certificateFile: String?
        /// PEM file of the client certificate's private key, for mTLS. Default `nil`.
        public var keyFile: String?
        /// Host name to verify the server certificate against (and send as SNI), instead of the
        /// endpoint's host. Default `nil`.
        public var serverName: String?
        /// Verify the server's certificate and host name. Default `true`; `false` is for
        /// experiments only.
        public var verifyCertificates: Bool

        /// Creates TLS settings.
        /// - Parameters:
        ///   - caFile: PEM CA certificates to trust (default: system roots).
        ///   - certificateFile: PEM client certificate for mTLS (default none).
        ///   - keyFile: PEM client key for mTLS (default none).
        ///   - serverName: name to check the server certificate against (default: the endpoint's host).
        ///   - verifyCertificates: verify certificate and host name (default `true`).
        public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
                    serverName: String? = nil, verifyCertificates: Bool = true) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.serverName = serverName
            self.verifyCertificates = verifyCertificates
        }

        func makeContext() throws -> NIOSSLContext {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.applicationProtocols = ["h2"]
            configuration.certificateVerification = verifyCertificates ? .fullVerification : .none
            do {
                if let caFile {
                    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
                }
                if let certificateFile {
                    configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
                }
                if let keyFile {
                    configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
                }
                return try NIOSSLContext(configuration: configuration)
            } catch {
                throw EtcdError(code: .invalidArgument,
                                message: "could not load the TLS files (caFile: \(caFile ?? "-"), certificateFile: \(certificateFile ?? "-"), keyFile: \(keyFile ?? "-")) — are they readable PEM files?",
                                underlying: error)
            }
        }
    }
}
