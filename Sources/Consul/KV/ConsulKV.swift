import AsyncHTTPClient
import Foundation
import NIOHTTP1

/// Consul's key/value store (`/v1/kv`), reached through `ConsulClient.kv`.
///
/// Keys: a leading `/` is removed (Consul keys have none, so `/app/x` and `app/x` are the
/// same key, as the node list's `--key /autocluster/svc` relies on); an empty key is
/// rejected before anything is sent. Values over Consul's 512 KiB limit are rejected
/// before sending with `.valueTooLarge`.
public struct ConsulKV: Sendable {
    /// Consul's default maximum value size (`kv_max_value_size`): 512 KiB.
    public static let maximumValueSize = 512 * 1024

    let client: ConsulClient

    // MARK: Reads

    /// Reads one key.
    /// - Parameters:
    ///   - key: the key; a leading `/` is ignored.
    ///   - consistency: the read's consistency mode; default the configuration's.
    /// - Returns: the entry, or `nil` when the key does not exist.
    /// - Throws: `ConsulError` (`.invalidArgument` for an empty key, `.permissionDenied`, `.unreachable`, …).
    public func get(_ key: String, consistency: ConsulConsistency? = nil) async throws -> ConsulKeyValue? {
        try await getWithMeta(key, consistency: consistency).value
    }

    /// Reads one key, with the query metadata (index, known leader, last contact).
    /// - Parameters:
    ///   - key: the key; a leading `/` is ignored.
    ///   - consistency: the read's consistency mode; default the configuration's.
    /// - Throws: `ConsulError`.
    public func getWithMeta(_ key: String, consistency: ConsulConsistency? = nil) async throws
        -> ConsulQueryResult<ConsulKeyValue?>
    {
        try await read(key, waitIndex: nil, wait: nil, consistency: consistency)
    }

    /// A blocking read: waits until the key's index passes `waitIndex` or `wait` elapses
    /// (Consul adds up to wait/16 of jitter), then returns the key and the new `X-Consul-Index`.
    ///
    /// A return is no guarantee of a change; compare `value?.modifyIndex` or use `watch(_:)`,
    /// which also applies Consul's index-reset rules.
    /// - Parameters:
    ///   - key: the key; a leading `/` is ignored.
    ///   - waitIndex: the `index` of a previous answer; 0 answers at once.
    ///   - wait: the longest time to wait; Consul caps it at 10 minutes.
    ///   - consistency: the read's consistency mode; default the configuration's.
    /// - Throws: `ConsulError`.
    public func get(
        _ key: String, waitIndex: UInt64, wait: Duration, consistency: ConsulConsistency? = nil
    ) async throws -> ConsulBlockingResult {
        try await read(key, waitIndex: waitIndex, wait: wait, consistency: consistency)
    }

    /// Reads one key's raw value (`?raw`), without its metadata.
    /// - Parameters:
    ///   - key: the key; a leading `/` is ignored.
    ///   - consistency: the read's consistency mode; default the configuration's.
    /// - Returns: the value's bytes, or `nil` when the key does not exist.
    /// - Throws: `ConsulError`.
    public func getRaw(_ key: String, consistency: ConsulConsistency? = nil) async throws -> [UInt8]? {
        let key = try Self.normalize(key)
        var query: [(String, String?)] = [("raw", nil)]
        if let item = (consistency ?? client.configuration.defaultConsistency).queryItem { query.append(item) }
        let response = try await client.send(
            .GET, Self.path(key), query: query, okStatuses: [404], operation: "kv.get")
        return response.status == 404 ? nil : response.bytes
    }

    func read(_ key: String, waitIndex: UInt64?, wait: Duration?, consistency: ConsulConsistency?)
        async throws(ConsulError) -> ConsulBlockingResult
    {
        let key = try Self.normalize(key)
        var query: [(String, String?)] = []
        if let item = (consistency ?? client.configuration.defaultConsistency).queryItem { query.append(item) }
        if let waitIndex, let wait {
            query.append(("index", String(waitIndex)))
            query.append(("wait", wait.goString))
        }
        let response = try await client.send(
            .GET, Self.path(key), query: query, okStatuses: [404], blockingWait: waitIndex == nil ? nil : wait,
            operation: "kv.get")
        if response.status == 404 { return ConsulBlockingResult(value: nil, meta: response.meta) }
        let entries = try response.decode([ConsulKeyValue].self)
        return ConsulBlockingResult(value: entries.first, meta: response.meta)
    }

    /// Reads every key under a prefix (`?recurse`).
    /// - Parameters:
    ///   - prefix: the prefix; a leading `/` is ignored; `""` lists the whole store.
    ///   - consistency: the read's consistency mode; default the configuration's.
    /// - Returns: the entries, sorted by key; empty when there are none.
    /// - Throws: `ConsulError`.
    public func list(_ prefix: String, consistency: ConsulConsistency? = nil) async throws -> [ConsulKeyValue] {
        try await list(prefix, waitIndex: nil, wait: nil, consistency: consistency).value
    }

    /// Reads every key under a prefix, as a blocking query when `waitIndex` and `wait` are given.
    /// - Throws: `ConsulError`.
    public func list(
        _ prefix: String, waitIndex: UInt64?, wait: Duration?, consistency: ConsulConsistency? = nil
    ) async throws -> ConsulQueryResult<[ConsulKeyValue]> {
        let prefix = Self.normalizePrefix(prefix)
        var query: [(String, String?)] = [("recurse", nil)]
        if let item = (consistency ?? client.configuration.defaultConsistency).queryItem { query.append(item) }
        if let waitIndex, let wait {
            query.append(("index", String(waitIndex)))
            query.append(("wait", wait.goString))
        }
        let response = try await client.send(
            .GET, Self.path(prefix), query: query, okStatuses: [404], blockingWait: waitIndex == nil ? nil : wait,
            operation: "kv.list")
        if response.status == 404 { return .init(value: [], meta: response.meta) }
        return .init(value: try response.decode([ConsulKeyValue].self), meta: response.meta)
    }

    /// Lists the keys under a prefix (`?keys`), without values.
    /// - Parameters:
    ///   - prefix: the prefix; a leading `/` is ignored.
    ///   - separator: list only up to this separator (e.g. `"/"` for one "directory" level).
    ///   - consistency: the read's consistency mode; default the configuration's.
    /// - Returns: the keys, sorted; empty when there are none.
    /// - Throws: `ConsulError`.
    public func keys(_ prefix: String, separator: String? = nil, consistency: ConsulConsistency? = nil)
        async throws -> [String]
    {
        try await keys(prefix, separator: separator, waitIndex: nil, wait: nil, consistency: consistency).value
    }

    /// Lists the keys under a prefix, as a blocking query when `waitIndex` and `wait` are given.
    /// - Throws: `ConsulError`.
    public func keys(
        _ prefix: String, separator: String? = nil, waitIndex: UInt64?, wait: Duration?,
        consistency: ConsulConsistency? = nil
    ) async throws -> ConsulQueryResult<[String]> {
        let prefix = Self.normalizePrefix(prefix)
        var query: [(String, String?)] = [("keys", nil)]
        if let separator { query.append(("separator", separator)) }
        query += client.readQuery(consistency: consistency, waitIndex: waitIndex, wait: wait)
        let response = try await client.send(
            .GET, Self.path(prefix), query: query, okStatuses: [404], blockingWait: waitIndex == nil ? nil : wait,
            operation: "kv.keys")
        if response.status == 404 { return .init(value: [], meta: response.meta) }
        return .init(value: try response.decode([String].self), meta: response.meta)
    }

    // MARK: Writes

    /// Writes a key.
    /// - Parameters:
    ///   - key: the key; a leading `/` is ignored.
    ///   - value: at most 512 KiB.
    ///   - cas: check-and-set: `0` writes only if the key does not exist; another value writes
    ///     only if the key's `modifyIndex` equals it. Default `nil`: write unconditionally.
    ///   - flags: opaque flags to store with the value. Default `nil` (0).
    ///   - acquire: a session ID: write and take the key's lock, only if no other session holds it.
    ///   - release: a session ID: write and release the key's lock, only if this session holds it.
    /// - Returns: `true` when written; `false` when the `cas` index did not match or the lock
    ///   could not be acquired or released.
    /// - Throws: `ConsulError` (`.valueTooLarge` before sending, `.sessionInvalidated` for an unknown session, …).
    @discardableResult
    public func put(
        _ key: String, value: [UInt8], cas: UInt64? = nil, flags: UInt64? = nil, acquire: String? = nil,
        release: String? = nil
    ) async throws -> Bool {
        let key = try Self.normalize(key)
        try Self.checkSize(value, key: key)
        var query: [(String, String?)] = []
        if let cas { query.append(("cas", String(cas))) }
        if let flags { query.append(("flags", String(flags))) }
        if let acquire { query.append(("acquire", acquire)) }
        if let release { query.append(("release", release)) }
        let response = try await client.send(.PUT, Self.path(key), query: query, body: value, operation: "kv.put")
        return try Self.decodeBool(response)
    }

    /// Takes the lock on `key` for `session` and writes `value` (`PUT ?acquire=`).
    /// - Returns: `true` when this session now holds the lock.
    /// - Throws: `ConsulError`.
    public func acquire(_ key: String, session: String, value: [UInt8] = [], flags: UInt64? = nil) async throws
        -> Bool
    {
        try await put(key, value: value, flags: flags, acquire: session)
    }

    /// Releases `session`'s lock on `key`, writing `value` (`PUT ?release=`).
    /// - Returns: `true` when the lock was released; `false` when this session did not hold it.
    /// - Throws: `ConsulError`.
    public func release(_ key: String, session: String, value: [UInt8] = [], flags: UInt64? = nil) async throws
        -> Bool
    {
        try await put(key, value: value, flags: flags, release: session)
    }

    /// Deletes a key.
    /// - Parameters:
    ///   - key: the key; a leading `/` is ignored.
    ///   - cas: delete only if the key's `modifyIndex` equals it. Default `nil`: unconditionally.
    /// - Returns: `true` when the delete was applied (also when the key did not exist and no
    ///   `cas` was given, as Consul answers); `false` when `cas` did not match.
    /// - Throws: `ConsulError`.
    @discardableResult
    public func delete(_ key: String, cas: UInt64? = nil) async throws -> Bool {
        let key = try Self.normalize(key)
        var query: [(String, String?)] = []
        if let cas { query.append(("cas", String(cas))) }
        let response = try await client.send(.DELETE, Self.path(key), query: query, operation: "kv.delete")
        return try Self.decodeBool(response)
    }

    /// Deletes every key under a prefix (`?recurse`).
    /// - Parameter prefix: the prefix; a leading `/` is ignored. An empty prefix is rejected
    ///   (it would delete the whole store).
    /// - Throws: `ConsulError`.
    @discardableResult
    public func delete(prefix: String) async throws -> Bool {
        let prefix = Self.normalizePrefix(prefix)
        guard !prefix.isEmpty else {
            throw ConsulError(
                .invalidArgument, message: "refusing to delete with an empty prefix: it would delete every key")
        }
        let response = try await client.send(
            .DELETE, Self.path(prefix), query: [("recurse", nil)], operation: "kv.delete")
        return try Self.decodeBool(response)
    }

    // MARK: Helpers

    /// The Consul key for `key`: without leading `/`; empty is an error.
    static func normalize(_ key: String) throws(ConsulError) -> String {
        let normalized = String(key.drop { $0 == "/" })
        guard !normalized.isEmpty else {
            throw ConsulError(
                .invalidArgument,
                message: "the key \"\(key)\" is empty (after removing its leading '/') — give a key such as \"app/config\"")
        }
        return normalized
    }

    static func normalizePrefix(_ prefix: String) -> String { String(prefix.drop { $0 == "/" }) }

    static func checkSize(_ value: [UInt8], key: String) throws(ConsulError) {
        guard value.count <= maximumValueSize else {
            throw ConsulError(
                .valueTooLarge,
                message: "the value for \"\(key)\" is \(value.count) bytes; Consul's KV limit is \(maximumValueSize) "
                    + "bytes (512 KiB) — store large data elsewhere and keep a reference in Consul")
        }
    }

    static func path(_ key: String) -> String { "/v1/kv/" + ConsulClient.escapePath(key) }

    static func decodeBool(_ response: ConsulResponse) throws(ConsulError) -> Bool {
        switch response.text.trimmingCharacters(in: .whitespacesAndNewlines) {
        case "true": return true
        case "false": return false
        default:
            throw ConsulError(
                .badResponse, message: "expected true or false from \(response.path), got \"\(response.text.prefix(80))\"",
                httpStatus: response.status, path: response.path)
        }
    }
}
