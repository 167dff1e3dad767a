/// An error from ``EtcdClient``: what went wrong, the gRPC status and etcd's own message
/// when the server answered, the endpoint involved, and a message that says what to do.
public struct EtcdError: Error, CustomStringConvertible, Sendable {
    /// The kind of error. Compare with the static members, e.g. `error.code == .compacted`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case unavailable, deadlineExceeded, invalidArgument, notFound, permissionDenied
            case unauthenticated, connectionFailed, closed, cancelled, compacted, failedPrecondition
            case resourceExhausted, alreadyExists, aborted, outOfRange, unimplemented, `internal`
            case protocolError, leaseExpired, watchCanceled, watchFellBehind, tlsFailure, unknown
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The server (or every endpoint) cannot be reached or has no leader; retry later.
        public static let unavailable = Code(.unavailable)
        /// The call did not finish before its deadline (`Configuration.timeouts.request`).
        public static let deadlineExceeded = Code(.deadlineExceeded)
        /// The request was rejected as malformed (empty key, too large, bad URL, …).
        public static let invalidArgument = Code(.invalidArgument)
        /// The thing named does not exist (e.g. "etcdserver: requested lease not found").
        public static let notFound = Code(.notFound)
        /// The authenticated user lacks the permission.
        public static let permissionDenied = Code(.permissionDenied)
        /// Authentication failed or the token is invalid.
        public static let unauthenticated = Code(.unauthenticated)
        /// No connection could be made to any endpoint.
        public static let connectionFailed = Code(.connectionFailed)
        /// The client was closed.
        public static let closed = Code(.closed)
        /// The call was cancelled (Swift task cancellation).
        public static let cancelled = Code(.cancelled)
        /// The requested revision has been compacted; ``EtcdError/compactRevision`` says the oldest left.
        public static let compacted = Code(.compacted)
        /// The server refused because of its state (gRPC FAILED_PRECONDITION).
        public static let failedPrecondition = Code(.failedPrecondition)
        /// A message exceeded the maximum size, or the server ran out of a resource.
        public static let resourceExhausted = Code(.resourceExhausted)
        /// gRPC ALREADY_EXISTS.
        public static let alreadyExists = Code(.alreadyExists)
        /// gRPC ABORTED.
        public static let aborted = Code(.aborted)
        /// gRPC OUT_OF_RANGE (other than compaction, e.g. a future revision).
        public static let outOfRange = Code(.outOfRange)
        /// gRPC UNIMPLEMENTED: the server does not know this call.
        public static let unimplemented = Code(.unimplemented)
        /// gRPC INTERNAL / DATA_LOSS.
        public static let `internal` = Code(.internal)
        /// The server broke the HTTP/2 or gRPC protocol.
        public static let protocolError = Code(.protocolError)
        /// A lease expired or was revoked while it was being kept alive.
        public static let leaseExpired = Code(.leaseExpired)
        /// The server cancelled a watch.
        public static let watchCanceled = Code(.watchCanceled)
        /// The consumer of a watch fell behind: more than
        /// ``EtcdClient/Configuration/watchBufferLimit`` updates were waiting for it. Every event
        /// before ``EtcdError/resumeRevision`` was delivered; watch again from that revision.
        public static let watchFellBehind = Code(.watchFellBehind)
        /// The TLS handshake failed (untrusted certificate, wrong host name, no client certificate).
        public static let tlsFailure = Code(.tlsFailure)
        /// Anything else.
        public static let unknown = Code(.unknown)

        public var description: String { value.rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// A human-readable message that says what happened and what to do.
    public var message: String
    /// The gRPC status code from the server's trailers, when the server answered.
    public var grpcStatus: Int?
    /// etcd's own message from `grpc-message` (e.g. "etcdserver: mvcc: required revision has been compacted").
    public var serverMessage: String?
    /// The endpoint involved, e.g. `http://127.0.0.1:2379`.
    public var endpoint: String?
    /// For ``Code/compacted``: the oldest revision still available.
    public var compactRevision: Int64?
    /// For ``Code/watchFellBehind``: the first revision the ended watch did not deliver — pass it
    /// as `fromRevision` to a new watch to continue with no gap and no repeat.
    public var resumeRevision: Int64?
    /// The underlying cause (a NIO or TLS error), if any.
    public var underlying: (any Error)?

    /// True when the server cannot have applied the request, so even a write may be retried.
    var notProcessed = false

    /// Creates an error.
    public init(code: Code, message: String, grpcStatus: Int? = nil, serverMessage: String? = nil,
                endpoint: String? = nil, compactRevision: Int64? = nil, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.grpcStatus = grpcStatus
        self.serverMessage = serverMessage
        self.endpoint = endpoint
        self.compactRevision = compactRevision
        self.underlying = underlying
    }

    /// One line that says what happened and what to do, naming the cause once: the message, the
    /// gRPC status, and the underlying cause in a few words only when the message does not already
    /// name it. An error that wraps this one puts this in its own message, not ``description``.
    public var summary: String {
        var text = Self.oneLine(message)
        if let grpcStatus { text += " [grpc-status \(grpcStatus)]" }
        if let underlying {
            let cause = Self.causePhrase(underlying)
            if !text.lowercased().contains(cause.lowercased()) { text += " (cause: \(cause))" }
        }
        return text
    }

    /// `EtcdError.CODE: ` and ``summary``, on one line. The full chain stays in ``underlying``.
    public var description: String {
        "EtcdError.\(code): \(summary)"
    }

    /// True when the same call may succeed if tried again, on this or another endpoint: the member
    /// was unavailable or went away (GOAWAY), no connection could be made, or the call ran out of
    /// time. The client has already retried reads, and writes etcd cannot have applied; a write
    /// that still fails this way may or may not have been applied (see ``wasNotProcessed``) —
    /// re-read before writing again, or write with a compare in a ``EtcdClient/txn(compare:success:failure:)``.
    public var isRetryable: Bool {
        isUnavailable || code == .deadlineExceeded
    }

    /// True when etcd certainly did not process the call (it was never sent, the server refused
    /// the stream, or answered GOAWAY with a last-stream-id below it, or "no leader"), so even a
    /// write may be repeated safely. The client retries such calls itself while attempts and
    /// time remain.
    public var wasNotProcessed: Bool { notProcessed }

    /// True for errors after which the same call may succeed on another attempt or endpoint.
    var isUnavailable: Bool {
        code == .unavailable || code == .connectionFailed
    }
}

extension EtcdError {
    static func invalidArgument(_ message: String) -> EtcdError {
        EtcdError(code: .invalidArgument, message: message)
    }

    static func closed() -> EtcdError {
        EtcdError(code: .closed, message: "the EtcdClient was closed — create a new one with EtcdClient.connect")
    }
}
