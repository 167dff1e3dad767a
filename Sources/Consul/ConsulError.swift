/// The error every `ConsulClient` call throws.
///
/// `code` says what went wrong in a way a program can branch on; `message` says it
/// to a person, including what to do about it. `httpStatus` and `consulMessage` are
/// Consul's own answer when there was one, and `path` the request path (query
/// parameters are never included, and the ACL token never appears anywhere in an error).
public struct ConsulError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a value a program can switch on.
    ///
    /// A struct over a private enum so that new codes can be added without breaking the API.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case notFound, permissionDenied, unreachable, timeout, invalidArgument, valueTooLarge
            case badResponse, noLeader, conflict, sessionInvalidated, serverError, tls, shutdown, cancelled
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The key, session, service or check does not exist (HTTP 404).
        public static let notFound = Code(.notFound)
        /// The ACL token is missing, unknown or lacks permission (HTTP 403).
        public static let permissionDenied = Code(.permissionDenied)
        /// The Consul agent could not be reached (connection refused, DNS failure, connect timeout).
        public static let unreachable = Code(.unreachable)
        /// The request did not complete within its deadline.
        public static let timeout = Code(.timeout)
        /// The call's arguments were rejected before anything was sent (empty key, malformed address, …),
        /// or Consul answered 400 Bad Request.
        public static let invalidArgument = Code(.invalidArgument)
        /// The value is larger than Consul's 512 KiB limit (checked before sending; HTTP 413 from Consul).
        public static let valueTooLarge = Code(.valueTooLarge)
        /// Consul answered something this client could not decode.
        public static let badResponse = Code(.badResponse)
        /// Consul answered 500 "No cluster leader": the servers have no leader right now.
        public static let noLeader = Code(.noLeader)
        /// A transaction was rolled back (HTTP 409); see `ConsulError.transactionErrors`.
        public static let conflict = Code(.conflict)
        /// The session does not exist any more (destroyed, or its TTL expired).
        public static let sessionInvalidated = Code(.sessionInvalidated)
        /// Any other 5xx answer from Consul.
        public static let serverError = Code(.serverError)
        /// The TLS handshake failed (untrusted certificate, wrong server name, unreadable certificate file).
        public static let tls = Code(.tls)
        /// The client was shut down.
        public static let shutdown = Code(.shutdown)
        /// The calling task was cancelled.
        public static let cancelled = Code(.cancelled)

        /// The code's name, e.g. `permissionDenied`.
        public var description: String { base.rawValue }
    }

    /// One failed operation of a rolled-back transaction, as Consul reports it.
    public struct TransactionError: Sendable, Hashable, Codable {
        /// The position of the failed operation in the transaction.
        public var opIndex: Int
        /// Consul's description of the failure.
        public var what: String

        /// Creates a transaction error.
        public init(opIndex: Int, what: String) {
            self.opIndex = opIndex
            self.what = what
        }

        enum CodingKeys: String, CodingKey {
            case opIndex = "OpIndex"
            case what = "What"
        }
    }

    /// What went wrong.
    public var code: Code
    /// The HTTP status Consul answered with, when it answered.
    public var httpStatus: Int?
    /// A message for a person: what happened and what to do.
    public var message: String
    /// Consul's own error text (the response body), when it answered with an error.
    public var consulMessage: String?
    /// The request path (`/v1/kv/…`), without query parameters and never with the token.
    public var path: String?
    /// The per-operation errors of a rolled-back transaction (`code == .conflict`).
    public var transactionErrors: [TransactionError]
    /// The underlying error (AsyncHTTPClient, NIO, TLS, decoding), if any.
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(
        _ code: Code, message: String, httpStatus: Int? = nil, consulMessage: String? = nil, path: String? = nil,
        transactionErrors: [TransactionError] = [], underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.consulMessage = consulMessage
        self.path = path
        self.transactionErrors = transactionErrors
        self.underlying = underlying
    }

    /// One line that says what happened and what to do, naming the cause once: the message, the
    /// HTTP status, Consul's own text, and the underlying cause in a few words only when the
    /// message does not already name it (never the token). An error that wraps this one puts this
    /// in its own message, not ``description``.
    public var summary: String {
        var text = Self.oneLine(message)
        if let httpStatus { text += " [HTTP \(httpStatus)]" }
        if let consulMessage, !consulMessage.isEmpty { text += " — Consul said: \(Self.brief(consulMessage))" }
        if let underlying {
            let cause = Self.causePhrase(underlying)
            if !text.lowercased().contains(cause.lowercased()) { text += " (cause: \(cause))" }
        }
        return text
    }

    /// `ConsulError.CODE: ` and ``summary``, on one line. The full chain stays in ``underlying``.
    public var description: String {
        "ConsulError.\(code): \(summary)"
    }
}

extension ConsulError {
    /// Maps a non-2xx answer to an error whose message says what to do.
    static func fromResponse(status: Int, body: String, method: String, path: String) -> ConsulError {
        let said = body.trimmingCharacters(in: .whitespacesAndNewlines)
        let request = "\(method) \(path)"
        switch status {
        case 400:
            return ConsulError(
                .invalidArgument, message: "Consul rejected \(request) as a bad request — check the arguments",
                httpStatus: status, consulMessage: said, path: path)
        case 403:
            return ConsulError(
                .permissionDenied,
                message: "ACL token missing or lacks permission for \(request) — set Configuration.token "
                    + "(or CONSUL_HTTP_TOKEN) to a token whose policy allows this operation",
                httpStatus: status, consulMessage: said, path: path)
        case 404:
            return ConsulError(
                .notFound, message: "\(request): not found", httpStatus: status, consulMessage: said, path: path)
        case 409:
            return ConsulError(
                .conflict, message: "\(request) was rolled back", httpStatus: status, consulMessage: said, path: path)
        case 413:
            return ConsulError(
                .valueTooLarge,
                message: "\(request): the value is too large — Consul's KV limit is 512 KiB (kv_max_value_size); "
                    + "store large data elsewhere and keep a reference in Consul",
                httpStatus: status, consulMessage: said, path: path)
        case 500 where said.localizedCaseInsensitiveContains("no cluster leader"):
            return ConsulError(
                .noLeader,
                message: "\(request): Consul has no cluster leader — wait for the servers to elect one and retry "
                    + "(check `consul operator raft list-peers`)",
                httpStatus: status, consulMessage: said, path: path)
        case 500 where said.localizedCaseInsensitiveContains("invalid session")
            || said.localizedCaseInsensitiveContains("session") && said.localizedCaseInsensitiveContains("not found"):
            return ConsulError(
                .sessionInvalidated,
                message: "\(request): the session is not valid (destroyed or its TTL expired) — create a new session",
                httpStatus: status, consulMessage: said, path: path)
        case 500...599:
            return ConsulError(
                .serverError, message: "\(request): Consul answered with a server error — retry later",
                httpStatus: status, consulMessage: said, path: path)
        default:
            return ConsulError(
                .badResponse, message: "\(request): unexpected HTTP status \(status)", httpStatus: status,
                consulMessage: said, path: path)
        }
    }
}

import Foundation
