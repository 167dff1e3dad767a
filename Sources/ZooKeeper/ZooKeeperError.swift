import CZooKeeper

/// An error from ``ZooKeeperClient``: a ZooKeeper result code, an input rejected before it
/// reached the server, a deadline, or a closed client.
///
/// Match on ``code`` (`error.code == .noNode`). ``returnCode`` carries the C client's own
/// result code (`ZNONODE` = -101 …) when ZooKeeper produced the error.
public struct ZooKeeperError: Error, Sendable, CustomStringConvertible {
    /// What went wrong. Compare against the static members (`.noNode`, `.badVersion`, …).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case systemError, runtimeInconsistency, dataInconsistency, connectionLoss, marshallingError
            case unimplemented, operationTimeout, badArguments, invalidState, newConfigNoQuorum
            case reconfigInProgress, sslConnectionError, apiError, noNode, noAuth, badVersion
            case noChildrenForEphemerals, nodeExists, notEmpty, sessionExpired, invalidCallback
            case invalidACL, authFailed, closing, nothing, sessionMoved, notReadOnly
            case ephemeralOnLocalSession, noWatcher, reconfigDisabled, sessionClosedRequireSASLAuth
            case throttled, closed, cancelled, unknown
        }
        fileprivate let base: Base
        fileprivate init(_ base: Base) { self.base = base }

        /// A system error in the C client (`ZSYSTEMERROR`).
        public static let systemError = Code(.systemError)
        /// The C client found a runtime inconsistency (`ZRUNTIMEINCONSISTENCY`); in a `multi`, an
        /// operation that did not run because another one failed.
        public static let runtimeInconsistency = Code(.runtimeInconsistency)
        /// A data inconsistency was found (`ZDATAINCONSISTENCY`).
        public static let dataInconsistency = Code(.dataInconsistency)
        /// The connection to the server was lost before the result arrived (`ZCONNECTIONLOSS`).
        /// Retryable: the client reconnects by itself; a write may or may not have been applied.
        public static let connectionLoss = Code(.connectionLoss)
        /// Marshalling or unmarshalling failed (`ZMARSHALLINGERROR`).
        public static let marshallingError = Code(.marshallingError)
        /// The operation is not implemented by the server (`ZUNIMPLEMENTED`).
        public static let unimplemented = Code(.unimplemented)
        /// The operation did not complete within its deadline (`ZOPERATIONTIMEOUT`, or
        /// ``ZooKeeperClient/Configuration/operationTimeout``). Retryable; a write may or may not
        /// have been applied.
        public static let operationTimeout = Code(.operationTimeout)
        /// Invalid arguments: rejected by the client before reaching ZooKeeper (bad path, data too
        /// large, malformed connect string) or by the C client (`ZBADARGUMENTS`).
        public static let badArguments = Code(.badArguments)
        /// The handle is in an invalid state (`ZINVALIDSTATE`), e.g. its session expired.
        public static let invalidState = Code(.invalidState)
        /// No quorum of the new configuration is connected (`ZNEWCONFIGNOQUORUM`).
        public static let newConfigNoQuorum = Code(.newConfigNoQuorum)
        /// Another reconfiguration is in progress (`ZRECONFIGINPROGRESS`).
        public static let reconfigInProgress = Code(.reconfigInProgress)
        /// The TLS connection failed (`ZSSLCONNECTIONERROR`).
        public static let sslConnectionError = Code(.sslConnectionError)
        /// A generic API error (`ZAPIERROR`).
        public static let apiError = Code(.apiError)
        /// The node does not exist (`ZNONODE`); for `create`, its parent does not exist.
        public static let noNode = Code(.noNode)
        /// Not authorised by the node's ACL (`ZNOAUTH`).
        public static let noAuth = Code(.noAuth)
        /// The expected version does not match the node's (`ZBADVERSION`): re-read and retry.
        public static let badVersion = Code(.badVersion)
        /// Ephemeral nodes may not have children (`ZNOCHILDRENFOREPHEMERALS`).
        public static let noChildrenForEphemerals = Code(.noChildrenForEphemerals)
        /// The node already exists (`ZNODEEXISTS`).
        public static let nodeExists = Code(.nodeExists)
        /// The node has children and cannot be deleted (`ZNOTEMPTY`).
        public static let notEmpty = Code(.notEmpty)
        /// The session expired (`ZSESSIONEXPIRED`); its ephemeral nodes and watches are gone.
        public static let sessionExpired = Code(.sessionExpired)
        /// Invalid callback (`ZINVALIDCALLBACK`).
        public static let invalidCallback = Code(.invalidCallback)
        /// The ACL is invalid (`ZINVALIDACL`), e.g. empty, or `auth` with no authenticated identity.
        public static let invalidACL = Code(.invalidACL)
        /// Authentication failed (`ZAUTHFAILED`).
        public static let authFailed = Code(.authFailed)
        /// The C handle is closing (`ZCLOSING`).
        public static let closing = Code(.closing)
        /// No server responses to process (`ZNOTHING`).
        public static let nothing = Code(.nothing)
        /// The session moved to another server (`ZSESSIONMOVED`). Retryable.
        public static let sessionMoved = Code(.sessionMoved)
        /// A write was sent to a read-only server (`ZNOTREADONLY`).
        public static let notReadOnly = Code(.notReadOnly)
        /// An ephemeral node on a local session (`ZEPHEMERALONLOCALSESSION`).
        public static let ephemeralOnLocalSession = Code(.ephemeralOnLocalSession)
        /// The watcher could not be found (`ZNOWATCHER`).
        public static let noWatcher = Code(.noWatcher)
        /// Reconfiguration is disabled (`ZRECONFIGDISABLED`).
        public static let reconfigDisabled = Code(.reconfigDisabled)
        /// The server requires SASL authentication (`ZSESSIONCLOSEDREQUIRESASLAUTH`).
        public static let sessionClosedRequireSASLAuth = Code(.sessionClosedRequireSASLAuth)
        /// The server throttled the operation (`ZTHROTTLEDOP`). Retryable.
        public static let throttled = Code(.throttled)
        /// The client was closed (``ZooKeeperClient/close()``) before or while the call ran.
        public static let closed = Code(.closed)
        /// The calling task was cancelled.
        public static let cancelled = Code(.cancelled)
        /// A result code this client does not know.
        public static let unknown = Code(.unknown)

        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// The znode path the failed call was about, if any.
    public var path: String?
    /// What happened and what to do about it.
    public var message: String
    /// The C client's result code (e.g. -101 for `ZNONODE`), when ZooKeeper produced the error.
    public var returnCode: Int32?
    /// In a failed ``ZooKeeperClient/multi(_:)``: the index of the operation that failed.
    public var failedOperationIndex: Int?
    /// The error that caused this one, if any.
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(code: Code, path: String? = nil, message: String, returnCode: Int32? = nil,
                failedOperationIndex: Int? = nil, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.returnCode = returnCode
        self.failedOperationIndex = failedOperationIndex
        self.underlying = underlying
    }

    /// True for errors after which the same call may succeed when retried (connection loss,
    /// deadline, moved session, throttling). A retried write may already have been applied.
    public var isRetryable: Bool {
        [.connectionLoss, .operationTimeout, .sessionMoved, .throttled].contains(code)
    }

    /// One line that says what happened and what to do, naming the cause once: the message, and
    /// the path or the underlying error only when the message does not already name them. An error
    /// that wraps this one puts this in its own message, not ``description``.
    public var summary: String {
        var text = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        if let path, !text.contains(path) { text += " (\(path))" }
        if let underlying {
            let cause = (underlying as? ZooKeeperError)?.summary ?? "\(underlying)"
            let flat = cause.split(whereSeparator: \.isNewline).joined(separator: " ")
            if !text.contains(flat) { text += " (cause: \(flat.count > 120 ? String(flat.prefix(119)) + "…" : flat))" }
        }
        return text
    }

    /// `ZooKeeperError.CODE (PATH) [rc N]: ` and the message, on one line. The full chain stays
    /// in ``underlying``.
    public var description: String {
        var s = "ZooKeeperError.\(code)"
        if let path { s += " (\(path))" }
        if let returnCode { s += " [rc \(returnCode)]" }
        if let failedOperationIndex { s += " [operation #\(failedOperationIndex)]" }
        return s + ": " + message.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

extension ZooKeeperError.Code {
    /// The code for a C client result code.
    init(returnCode rc: Int32) {
        switch rc {
        case ZSYSTEMERROR.rawValue: self = .systemError
        case ZRUNTIMEINCONSISTENCY.rawValue: self = .runtimeInconsistency
        case ZDATAINCONSISTENCY.rawValue: self = .dataInconsistency
        case ZCONNECTIONLOSS.rawValue: self = .connectionLoss
        case ZMARSHALLINGERROR.rawValue: self = .marshallingError
        case ZUNIMPLEMENTED.rawValue: self = .unimplemented
        case ZOPERATIONTIMEOUT.rawValue: self = .operationTimeout
        case ZBADARGUMENTS.rawValue: self = .badArguments
        case ZINVALIDSTATE.rawValue: self = .invalidState
        case ZNEWCONFIGNOQUORUM.rawValue: self = .newConfigNoQuorum
        case ZRECONFIGINPROGRESS.rawValue: self = .reconfigInProgress
        case ZSSLCONNECTIONERROR.rawValue: self = .sslConnectionError
        case ZAPIERROR.rawValue: self = .apiError
        case ZNONODE.rawValue: self = .noNode
        case ZNOAUTH.rawValue: self = .noAuth
        case ZBADVERSION.rawValue: self = .badVersion
        case ZNOCHILDRENFOREPHEMERALS.rawValue: self = .noChildrenForEphemerals
        case ZNODEEXISTS.rawValue: self = .nodeExists
        case ZNOTEMPTY.rawValue: self = .notEmpty
        case ZSESSIONEXPIRED.rawValue: self = .sessionExpired
        case ZINVALIDCALLBACK.rawValue: self = .invalidCallback
        case ZINVALIDACL.rawValue: self = .invalidACL
        case ZAUTHFAILED.rawValue: self = .authFailed
        case ZCLOSING.rawValue: self = .closing
        case ZNOTHING.rawValue: self = .nothing
        case ZSESSIONMOVED.rawValue: self = .sessionMoved
        case ZNOTREADONLY.rawValue: self = .notReadOnly
        case ZEPHEMERALONLOCALSESSION.rawValue: self = .ephemeralOnLocalSession
        case ZNOWATCHER.rawValue: self = .noWatcher
        case ZRECONFIGDISABLED.rawValue: self = .reconfigDisabled
        case ZSESSIONCLOSEDREQUIRESASLAUTH.rawValue: self = .sessionClosedRequireSASLAuth
        case ZTHROTTLEDOP.rawValue: self = .throttled
        default: self = .unknown
        }
    }
}

extension ZooKeeperError {
    /// The error for a C result code, with a message that says what to do.
    init(returnCode rc: Int32, operation: String, path: String?, failedOperationIndex: Int? = nil) {
        let code = Code(returnCode: rc)
        let subject = path.map { "\(operation) \($0)" } ?? operation
        let advice: String
        switch code {
        case .noNode: advice = operation == "create"
            ? "the parent node does not exist — create it first"
            : "the node does not exist"
        case .nodeExists: advice = "the node already exists — read it, or delete it first"
        case .badVersion: advice = "the node changed since it was read (version mismatch) — re-read it and retry"
        case .notEmpty: advice = "the node has children — delete them first"
        case .noAuth: advice = "the node's ACL does not allow this — add the right credentials with addAuth(scheme:credentials:)"
        case .invalidACL: advice = "the ACL is invalid (empty, or an `auth` entry without an authenticated identity)"
        case .connectionLoss: advice = "the connection to ZooKeeper was lost; the client reconnects by itself — retry (a write may already have been applied)"
        case .operationTimeout: advice = "ZooKeeper did not answer in time; retry once it is reachable (a write may already have been applied)"
        case .sessionExpired: advice = "the session expired (its ephemeral nodes and watches are gone); a new session is opened — retry"
        case .noChildrenForEphemerals: advice = "ephemeral nodes cannot have children"
        case .authFailed: advice = "authentication failed — check the scheme and credentials"
        case .runtimeInconsistency where failedOperationIndex != nil: advice = "not applied because another operation of the multi failed"
        case .unimplemented: advice = "the server does not support this (TTL nodes need zookeeper.extendedTypesEnabled=true on the server)"
        case .closing: advice = "the client is closing"
        case .notReadOnly: advice = "the connected server is read-only (its ensemble lost quorum, the session is connectedReadOnly) — the client moves to a read-write server by itself once one is reachable; retry the write after sessionEvents reports connected"
        default: advice = String(cString: zerror(rc))
        }
        self.init(code: code, path: path, message: "\(subject): \(advice)", returnCode: rc,
                  failedOperationIndex: failedOperationIndex)
    }

    static func closed(_ operation: String, path: String?) -> ZooKeeperError {
        ZooKeeperError(code: .closed, path: path,
                       message: "\(operation)\(path.map { " " + $0 } ?? ""): the client was closed — create a new one with ZooKeeperClient.connect")
    }

    static func badArguments(_ message: String, path: String? = nil) -> ZooKeeperError {
        ZooKeeperError(code: .badArguments, path: path, message: message)
    }
}
