
/// Every error the NodeList module throws.
///
/// Compare ``code`` against its static members (`error.code == .corruptValue`); the message says
/// what to do. Secrets never appear in it.
public struct NodeListError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case corruptValue, contention, tooManyNodes, storeFailure, connectFailed
            case invalidNode, invalidStoreURL, unsupported, valueTooLarge, accessDenied
            case duplicateName, serviceStopped
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The stored value is not a format-1 node list; it was left untouched.
        public static let corruptValue = Code(.corruptValue)
        /// Compare-and-swap kept conflicting past `maxCASAttempts`.
        public static let contention = Code(.contention)
        /// The list would grow past `maxNodes`.
        public static let tooManyNodes = Code(.tooManyNodes)
        /// The store failed or could not be reached (see ``underlying``).
        public static let storeFailure = Code(.storeFailure)
        /// Responsive nodes were found but the `connect` hook failed for every one of them.
        public static let connectFailed = Code(.connectFailed)
        /// The node to join is not valid (empty name, address not `host:port`).
        public static let invalidNode = Code(.invalidNode)
        /// A store URL could not be parsed.
        public static let invalidStoreURL = Code(.invalidStoreURL)
        /// The operation is not available for this store or configuration.
        public static let unsupported = Code(.unsupported)
        /// The list would be larger than the store accepts in one value; nothing was written.
        public static let valueTooLarge = Code(.valueTooLarge)
        /// The store refused the credentials, or the node list's ACL does not let them (or no
        /// credentials) read or write it: ZooKeeper `noAuth`/`authFailed`, etcd
        /// `unauthenticated`/`permissionDenied`, Consul 403. The message says which credentials to pass.
        public static let accessDenied = Code(.accessDenied)
        /// Two live processes claim one node name (two incarnations that both answer); nothing
        /// was written. Give every process its own name.
        public static let duplicateName = Code(.duplicateName)
        /// A `NodeListService` stopped before it was ready (``NodeListService/waitUntilReady()``).
        public static let serviceStopped = Code(.serviceStopped)

        /// The code's name.
        public var description: String { "\(value)" }
    }

    /// What kind of failure this is.
    public var code: Code
    /// A one-line, human explanation that says what to do.
    public var message: String
    /// The error from the store client or the hook, when there is one.
    public var underlying: (any Error)?
    /// For `.corruptValue` and `.contention`: the stored version the error is about.
    public var version: UInt64?
    /// For `.corruptValue`: the stored bytes that did not decode (untouched in the store).
    public var bytes: [UInt8]?

    /// Creates an error.
    public init(code: Code, message: String, underlying: (any Error)? = nil, version: UInt64? = nil, bytes: [UInt8]? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.version = version
        self.bytes = bytes
    }

    /// Two live processes claim the name `name`: `listed` is in the list and answers at its address,
    /// `joining` is the caller.
    public static func duplicateName(name: String, listed: ClusterNode, joining: ClusterNode) -> NodeListError {
        NodeListError(
            code: .duplicateName,
            message: "node name \(name) is claimed by two live processes: incarnation \(listed.incarnation) at \(listed.address) "
                + "(listed, answering) and incarnation \(joining.incarnation) at \(joining.address) (joining); nothing was written "
                + "— give each process its own name")
    }

    /// The stored value at `version` does not decode.
    public static func corruptValue(version: UInt64, bytes: [UInt8], reason: String = "it does not decode") -> NodeListError {
        NodeListError(
            code: .corruptValue,
            message: "the stored node list (version \(version), \(bytes.count) bytes) is not a format-1 document: "
                + "\(reason); it was left untouched — fix or delete it, or opt into .replaceCorrupt",
            version: version, bytes: bytes)
    }

    /// The message on one line. It already names the cause once — errors that wrap a store
    /// client's error put that error's one-line `summary(of:)` in their message — so the
    /// ``underlying`` chain is not repeated here; it stays available on ``underlying``.
    public var description: String {
        message.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// `error` in one line for a wrapping message: a store client's error as the summary its
    /// backend gives (``NodeListBackend/summary(of:)``: what happened and what to do, the cause
    /// named once, without the type and code), a `NodeListError` as its ``description``,
    /// anything else as its own text on one line.
    public static func summary(of error: any Error, backend: (any NodeListBackend)? = nil) -> String {
        let text: String
        if let error = error as? NodeListError {
            text = error.description
        } else if let summary = backend?.summary(of: error) {
            text = summary
        } else {
            text = "\(error)"
        }
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
