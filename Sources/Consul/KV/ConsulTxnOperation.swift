import Foundation

/// One KV operation of a Consul transaction (`PUT /v1/txn`).
///
/// All operations of a transaction are applied atomically, or none is; checks
/// (`checkIndex`, `checkSession`, `checkNotExists`) make the whole transaction fail.
public struct ConsulTxnOperation: Sendable, Hashable {
    /// Consul's verb for the operation (`set`, `cas`, `lock`, …).
    public var verb: String
    /// The key (without a leading `/`).
    public var key: String
    /// The value, for verbs that write one.
    public var value: [UInt8]?
    /// The flags, for verbs that write a value.
    public var flags: UInt64?
    /// The index, for `cas`, `check-index` and `delete-cas`.
    public var index: UInt64?
    /// The session, for `lock`, `unlock` and `check-session`.
    public var session: String?

    /// Writes a key.
    public static func set(_ key: String, value: [UInt8], flags: UInt64? = nil) -> Self {
        .init(verb: "set", key: key, value: value, flags: flags)
    }
    /// Writes a key only if its `modifyIndex` is `index` (0: only if it does not exist).
    public static func cas(_ key: String, value: [UInt8], index: UInt64, flags: UInt64? = nil) -> Self {
        .init(verb: "cas", key: key, value: value, flags: flags, index: index)
    }
    /// Writes a key and takes its lock for `session`.
    public static func lock(_ key: String, value: [UInt8], session: String) -> Self {
        .init(verb: "lock", key: key, value: value, session: session)
    }
    /// Writes a key and releases `session`'s lock on it.
    public static func unlock(_ key: String, value: [UInt8], session: String) -> Self {
        .init(verb: "unlock", key: key, value: value, session: session)
    }
    /// Reads a key; fails the transaction if it does not exist.
    public static func get(_ key: String) -> Self { .init(verb: "get", key: key) }
    /// Reads every key under a prefix.
    public static func getTree(_ prefix: String) -> Self { .init(verb: "get-tree", key: prefix) }
    /// Fails the transaction unless the key's `modifyIndex` is `index`.
    public static func checkIndex(_ key: String, index: UInt64) -> Self {
        .init(verb: "check-index", key: key, index: index)
    }
    /// Fails the transaction unless `session` holds the key's lock.
    public static func checkSession(_ key: String, session: String) -> Self {
        .init(verb: "check-session", key: key, session: session)
    }
    /// Fails the transaction if the key exists.
    public static func checkNotExists(_ key: String) -> Self { .init(verb: "check-not-exists", key: key) }
    /// Deletes a key.
    public static func delete(_ key: String) -> Self { .init(verb: "delete", key: key) }
    /// Deletes every key under a prefix.
    public static func deleteTree(_ prefix: String) -> Self { .init(verb: "delete-tree", key: prefix) }
    /// Deletes a key only if its `modifyIndex` is `index`.
    public static func deleteCAS(_ key: String, index: UInt64) -> Self {
        .init(verb: "delete-cas", key: key, index: index)
    }

    /// Creates an operation from its parts (prefer the static constructors).
    public init(
        verb: String, key: String, value: [UInt8]? = nil, flags: UInt64? = nil, index: UInt64? = nil,
        session: String? = nil
    ) {
        self.verb = verb
        self.key = key
        self.value = value
        self.flags = flags
        self.index = index
        self.session = session
    }
}

/// The outcome of a committed transaction: the entries its operations returned, in order
/// (`get`/`get-tree` return values; writes return the written entry's indexes without a value).
public struct ConsulTxnResult: Sendable, Hashable {
    /// The returned entries.
    public var results: [ConsulKeyValue]
    /// The transaction's `X-Consul-Index`, when Consul sent one.
    public var index: UInt64
}

struct TxnWireOperation: Encodable {
    struct KV: Encodable {
        var Verb: String
        var Key: String
        var Value: String?
        var Flags: UInt64?
        var Index: UInt64?
        var Session: String?
    }
    var KV: KV
}

struct TxnWireResponse: Decodable {
    struct Result: Decodable {
        var KV: ConsulKeyValue?
    }
    var Results: [Result]?
    var Errors: [ConsulError.TransactionError]?
}

extension ConsulKV {
    /// Applies KV operations atomically (`PUT /v1/txn`).
    /// - Parameter operations: the operations, applied in order; Consul accepts up to 64
    ///   (more in newer versions).
    /// - Returns: the entries the operations returned.
    /// - Throws: `ConsulError` with code `.conflict` and `transactionErrors` (each failed
    ///   operation's index and Consul's reason) when the transaction was rolled back;
    ///   `.valueTooLarge`/`.invalidArgument` before sending for bad values or keys.
    public func txn(_ operations: [ConsulTxnOperation]) async throws -> ConsulTxnResult {
        var wire: [TxnWireOperation] = []
        for operation in operations {
            let treeVerb = operation.verb == "get-tree" || operation.verb == "delete-tree"
            let key = treeVerb ? Self.normalizePrefix(operation.key) : try Self.normalize(operation.key)
            if let value = operation.value { try Self.checkSize(value, key: key) }
            wire.append(
                .init(
                    KV: .init(
                        Verb: operation.verb, Key: key, Value: operation.value.map { Data($0).base64EncodedString() },
                        Flags: operation.flags, Index: operation.index, Session: operation.session)))
        }
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(wire))
        } catch {
            throw ConsulError(.invalidArgument, message: "cannot encode the transaction", underlying: error)
        }
        let response = try await client.send(.PUT, "/v1/txn", body: body, okStatuses: [409], operation: "kv.txn")
        let decoded = try response.decode(TxnWireResponse.self)
        if response.status == 409 {
            let errors = decoded.Errors ?? []
            let summary = errors.map { "operation \($0.opIndex): \($0.what)" }.joined(separator: "; ")
            throw ConsulError(
                .conflict,
                message: "the transaction was rolled back (\(summary)) — re-read the keys and retry with fresh indexes",
                httpStatus: 409, consulMessage: summary, path: "/v1/txn", transactionErrors: errors)
        }
        return ConsulTxnResult(results: (decoded.Results ?? []).compactMap(\.KV), index: response.meta.index)
    }
}
