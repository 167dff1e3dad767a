import Metrics
#if DistributedTracingSupport
import Tracing
#endif
import Logging

extension ZooKeeperClient {
    /// How a ``ZooKeeperClient`` connects and behaves.
    public struct Configuration: Sendable {
        /// Comma-separated `host:port` list with an optional chroot suffix, e.g.
        /// `"10.0.0.1:2181,10.0.0.2:2181/my-app"`. With a chroot every path is relative to it.
        public var connectString: String
        /// The session timeout the client asks for; the server bounds it to 2–20 ticks
        /// (with the default tickTime of 2 s: 4–40 s). Default 10 s.
        public var sessionTimeout: Duration
        /// How long ``ZooKeeperClient/connect(_:)`` waits for the first session. Default 15 s.
        public var connectTimeout: Duration
        /// The deadline of every operation: a call that has no answer by then fails with
        /// `.operationTimeout` (the C client alone would keep it queued while no server is
        /// reachable). Default 10 s.
        public var operationTimeout: Duration
        /// Credentials added to every session on connect, e.g. `[("digest", "user:password")]`.
        /// Never logged. Default none.
        public var authentication: [(scheme: String, credentials: String)]
        /// A session to resume (from ``ZooKeeperClient/session``) instead of opening a new one.
        /// Connecting fails with `.sessionExpired` if the server no longer knows it. Default `nil`.
        public var session: ZooKeeperSession?
        /// Whether an expired session is replaced by a new one (re-adding ``authentication`` and
        /// re-arming every live watch). When false, an expired client fails every call with
        /// `.sessionExpired` and must be closed. Default true.
        public var reopenExpiredSession: Bool
        /// Whether the client may connect to a server that lost its quorum and serves reads only
        /// (`ZOO_READONLY`). Such a session reports ``ZooKeeperSessionState/connectedReadOnly``:
        /// reads (and watches) succeed, writes fail with `.notReadOnly`, and the C client keeps
        /// looking for a read-write server, moving to it by itself (as a new session, reported
        /// `connecting` then `connected`). The servers must run with
        /// `-Dreadonlymode.enabled=true` **and** `localSessionsEnabled=true` (ZooKeeper 3.6+
        /// refuses the handshake of a global session in read-only mode). A session opened before
        /// the quorum was lost is not read-only: it expires, and with ``reopenExpiredSession``
        /// the new session is. Default false.
        public var allowReadOnly: Bool
        /// The largest data accepted by `create`/`set`, checked before sending: ZooKeeper's own
        /// limit (`jute.maxbuffer`) is 1 MiB by default. Default 1 048 576 bytes.
        public var maximumDataSize: Int
        /// How often, at most, the C client re-resolves the connect string's host names while
        /// connected (`zoo_set_servers_resolution_delay`); it always does on connection loss.
        /// The C library's own default re-resolves (getaddrinfo, then a reshuffle) every time it
        /// polls its socket — about 30,000 instructions on every request (under callgrind).
        /// `.zero` restores that. Default 1 s.
        public var hostResolutionInterval: Duration
        /// Where the client and the C library log. The C library's messages arrive through its
        /// log callback (never stderr): its errors at `.warning`, warnings at `.notice`, info at
        /// `.debug`, debug at `.trace`. Default: a logger labelled `autocluster.zookeeper`.
        public var logger: Logger
        /// Where the client's metrics go (see the Metrics article): nil (the default) uses the
        /// bootstrapped `MetricsSystem.factory`.
        public var metricsFactory: (any MetricsFactory)? = nil
        #if DistributedTracingSupport
        /// Where the client's spans go: one client span per operation (see the Tracing article).
        /// nil (the default) uses the bootstrapped `InstrumentationSystem.tracer`.
        public var tracer: (any Tracer)? = nil
        #endif

        /// Creates a configuration.
        /// - Parameters:
        ///   - connectString: `host:port[,host:port…][/chroot]`.
        ///   - sessionTimeout: the session timeout to ask for (default 10 s).
        public init(connectString: String, sessionTimeout: Duration = .seconds(10)) {
            self.connectString = connectString
            self.sessionTimeout = sessionTimeout
            self.connectTimeout = .seconds(15)
            self.operationTimeout = .seconds(10)
            self.authentication = []
            self.session = nil
            self.reopenExpiredSession = true
            self.allowReadOnly = false
            self.maximumDataSize = 1_048_576
            self.hostResolutionInterval = .seconds(1)
            self.logger = Logger(label: "autocluster.zookeeper")
        }
    }
}

/// A ZooKeeper session's id and password, to resume it from another client.
public struct ZooKeeperSession: Hashable, Sendable, CustomStringConvertible {
    /// The session id (as in ``ZooKeeperStat/ephemeralOwner``).
    public var id: Int64
    /// The session password (16 bytes). Secret: never logged.
    public var password: [UInt8]

    /// Creates a session reference.
    public init(id: Int64, password: [UInt8]) {
        self.id = id
        self.password = password
    }

    public var description: String { "ZooKeeperSession(0x\(String(UInt64(bitPattern: id), radix: 16)))" }
}
