/// Every error the Coordination module throws.
///
/// Compare ``code`` against its static members (`error.code == .lockLost`); the message says what
/// to do. The store client's error, when there is one, is ``underlying``.
public struct CoordinationError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case timedOut, cancelled, lockLost, nameTaken, storeFailure, invalidArgument, notHeld
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// `acquire(deadline:)` / `campaign(deadline:)` gave up at its deadline; nothing is held.
        public static let timedOut = Code(.timedOut)
        /// The waiting task was cancelled; nothing is held.
        public static let cancelled = Code(.cancelled)
        /// The lock (or leadership, or presence entry) was lost; ``CoordinationError/reason`` says why.
        public static let lockLost = Code(.lockLost)
        /// A presence entry of that name is already held by another live member.
        public static let nameTaken = Code(.nameTaken)
        /// The store failed or could not be reached (see ``CoordinationError/underlying``).
        public static let storeFailure = Code(.storeFailure)
        /// An argument is not valid (an empty key, a TTL the store does not accept, …).
        public static let invalidArgument = Code(.invalidArgument)
        /// The operation needs a held lock, and this one was released.
        public static let notHeld = Code(.notHeld)

        /// The code's name.
        public var description: String { "\(value)" }
    }

    /// What kind of failure this is.
    public var code: Code
    /// A one-line, human explanation that says what to do.
    public var message: String
    /// For `.lockLost`: why the lock was lost.
    public var reason: LockLossReason?
    /// The store client's error (`ZooKeeperError`, `EtcdError`, `ConsulError`), when there is one.
    public var underlying: (any Error)?

    /// Creates an error.
    public init(code: Code, message: String, reason: LockLossReason? = nil, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.reason = reason
        self.underlying = underlying
    }

    /// The code, the message and the underlying error, on one line.
    public var description: String {
        var text = "CoordinationError.\(code): \(message)"
        if let underlying { text += " (\(underlying))" }
        return text
    }

    package static func lost(_ reason: LockLossReason, _ what: String) -> CoordinationError {
        CoordinationError(
            code: .lockLost,
            message: "\(what) was lost: \(reason) — stop acting as its holder and acquire it again",
            reason: reason)
    }

    package static func store(_ error: any Error, _ what: String) -> CoordinationError {
        if let error = error as? CoordinationError { return error }
        return CoordinationError(
            code: .storeFailure, message: "\(what) failed in the store — check that the store is reachable and retry",
            underlying: error)
    }
}
