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

    /// One line that says what happened and what to do, naming the cause once: the message, and
    /// the store client's error as its own one-line `summary` (not its description, which would
    /// restate the code and the cause) when the message does not already contain it.
    public var summary: String {
        var text = Self.oneLine(message)
        if let underlying {
            let cause = Self.summary(of: underlying)
            if !text.contains(cause) { text += ": \(cause)" }
        }
        return text
    }

    /// `CoordinationError.CODE: ` and ``summary``, on one line. The full chain stays in ``underlying``.
    public var description: String {
        "CoordinationError.\(code): \(summary)"
    }

    /// `error` in one line: a `CoordinationError` as its ``summary``, a store client's error as
    /// the summary its backend gives (each store module knows its client's error type), anything
    /// else as its own text on one line.
    package static func summary(of error: any Error, backend: (any CoordinationBackend)? = nil) -> String {
        if let error = error as? CoordinationError { return error.summary }
        if let summary = backend?.summary(of: error) { return oneLine(summary) }
        return oneLine("\(error)")
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    package static func lost(_ reason: LockLossReason, _ what: String) -> CoordinationError {
        CoordinationError(
            code: .lockLost,
            message: "\(what) was lost: \(reason) — stop acting as its holder and acquire it again",
            reason: reason)
    }

    package static func store(_ error: any Error, _ what: String, backend: (any CoordinationBackend)? = nil) -> CoordinationError {
        if let error = error as? CoordinationError { return error }
        return CoordinationError(
            code: .storeFailure, message: "\(what) failed: \(summary(of: error, backend: backend))",
            underlying: error)
    }
}
