import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A client for etcd v3: key-value reads and writes, transactions, watches, leases,
/// cluster membership and status, over gRPC on one HTTP/2 connection (nghttp2) per endpoint.
///
/// ```swift
/// let etcd = try await EtcdClient.connect(.init(endpoints: ["http://127.0.0.1:2379"]))
/// try await etcd.put("greeting", value: Array("hello".utf8))
/// let kv = try await etcd.get("greeting")   // kv?.valueString == "hello"
/// await etcd.close()
/// ```
///
/// Every call has a deadline (``Configuration/timeouts``); calls that fail because a member
/// is unavailable move to the next endpoint and are retried — reads always, writes only when
/// etcd cannot have applied them. All methods are safe to call concurrently.
public final class EtcdClient: Sendable {
    /// The configuration the client was connected with.
    public let configuration: Configuration
    let transport: GRPCTransport
    let watchHub: WatchHub
    let leaseKeeper: LeaseKeeper
    private let endpointSync = NIOLockedValueBox<Task<Void, Never>?>(nil)

    private init(configuration: Configuration, transport: GRPCTransport) {
        self.configuration = configuration
        self.transport = transport
        self.watchHub = WatchHub(transport: transport)
        self.leaseKeeper = LeaseKeeper(transport: transport)
    }

    /// Connects to the first reachable endpoint (authenticating when credentials are set).
    /// - Parameter configuration: endpoints, TLS, credentials, timeouts.
    /// - Returns: a connected client; call ``close()`` when done.
    /// - Throws: ``EtcdError`` — `.invalidArgument` for a malformed endpoint URL,
    ///   `.connectionFailed` when no endpoint answers, `.unauthenticated` for wrong credentials,
    ///   `.tlsFailure` when the TLS handshake fails.
    public static func connect(_ configuration: Configuration) async throws -> EtcdClient {
        let transport = try GRPCTransport(configuration: configuration)
        do {
            _ = try await transport.connection()
        } catch {
            await transport.close()
            throw error
        }
        let client = EtcdClient(configuration: configuration, transport: transport)
        if let interval = configuration.endpointSyncInterval {
            client.startEndpointSync(every: interval)
        }
        return client
    }

    private func startEndpointSync(every interval: Duration) {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self, !Task.isCancelled else { return }
                do {
                    try await self.syncEndpoints()
                } catch {
                    self.configuration.logger.debug("endpoint sync failed", error: error)
                }
            }
        }
        endpointSync.withLockedValue { $0 = task }
    }

    /// Closes the client: in-flight calls fail with `.closed`, watches and keep-alives end,
    /// and later calls throw `.closed`.
    public func close() async {
        endpointSync.withLockedValue { $0 }?.cancel()
        watchHub.close()
        leaseKeeper.close()
        await transport.close()
    }

    /// The endpoint the client currently talks to.
    public var currentEndpoint: String { transport.currentEndpoint }

    /// A task executor on the event loop of the client's connections (one loop for the client's
    /// life, taken from ``Configuration/eventLoopGroup`` at connect).
    ///
    /// A task that prefers it runs on that loop, so each call starts inline and its answer
    /// resumes the task on the same thread, with no hand-off between threads:
    ///
    /// ```swift
    /// try await withTaskExecutorPreference(etcd.taskExecutor) {
    ///     for key in keys { _ = try await etcd.get(key) }
    /// }
    /// ```
    ///
    /// The choice is per task; the trade-off (the loop does no I/O while your code runs on it)
    /// is in <doc:Configuration#Calls-on-the-clients-event-loop>.
    @available(macOS 15.0, *)
    public var taskExecutor: any TaskExecutor { transport.taskExecutor }

    /// The auth token the current connection sends (`nil` without credentials). Internal, for
    /// the tests' secret scan: whoever has the token acts as the user until it expires.
    var currentAuthToken: String? { transport.currentAuthToken }

    // MARK: Key-value

    /// Reads one key.
    /// - Parameter key: the key (must not be empty).
    /// - Returns: the key-value, or `nil` when the key does not exist.
    /// - Throws: ``EtcdError`` (`.invalidArgument` for an empty key).
    public func get(_ key: String) async throws -> EtcdKeyValue? {
        try await range(EtcdRangeRequest(key: key)).kvs.first
    }

    /// Reads every key starting with `prefix`, in key order.
    /// - Parameters:
    ///   - prefix: the key prefix; an empty prefix reads every key.
    ///   - limit: at most this many keys (0, the default, means no limit).
    /// - Returns: the keys found, the total count and the revision of the read (`header.revision`).
    /// - Throws: ``EtcdError``.
    public func range(prefix: String, limit: Int = 0) async throws -> EtcdRangeResponse {
        var request = EtcdRangeRequest.prefix(prefix)
        request.limit = Int64(limit)
        return try await range(request)
    }

    /// Runs any Range request (key or range, revision, limit, sort, serializable, keysOnly, countOnly).
    /// - Parameter request: the read.
    /// - Returns: the keys found and the revision of the read.
    /// - Throws: ``EtcdError`` (`.compacted` when `revision` was compacted).
    public func range(_ request: EtcdRangeRequest) async throws -> EtcdRangeResponse {
        try Self.validate(key: request.key)
        let (bytes, endpoint) = try await transport.unary("/etcdserverpb.KV/Range", key: request.key, request: Proto.encode(request),
                                                          idempotent: true)
        return try Proto.decodeRange(bytes, endpoint: endpoint)
    }

    /// Writes `value` at `key`.
    /// - Parameters:
    ///   - key: the key (must not be empty).
    ///   - value: the new value.
    ///   - lease: attach the key to this lease, so it is deleted when the lease ends (default none).
    /// - Returns: the response; `header.revision` is the revision of this write.
    /// - Throws: ``EtcdError`` (`.invalidArgument` for an empty key or a value over the size limit,
    ///   `.notFound` when the lease does not exist).
    @discardableResult
    public func put(_ key: String, value: [UInt8], lease: EtcdLeaseID? = nil) async throws -> EtcdPutResponse {
        try await put(EtcdPutRequest(key: key, value: value, lease: lease))
    }

    /// Runs any Put request (lease, prevKV, ignoreValue, ignoreLease).
    /// - Parameter request: the write.
    /// - Returns: the response, with the previous key-value when `prevKV` was set.
    /// - Throws: ``EtcdError``.
    @discardableResult
    public func put(_ request: EtcdPutRequest) async throws -> EtcdPutResponse {
        try Self.validate(key: request.key)
        let (bytes, endpoint) = try await transport.unary("/etcdserverpb.KV/Put", key: request.key, request: Proto.encode(request),
                                                          idempotent: false)
        return try Proto.decodePut(bytes, endpoint: endpoint)
    }

    /// Deletes one key.
    /// - Parameter key: the key (must not be empty).
    /// - Returns: the number of keys deleted (0 or 1).
    /// - Throws: ``EtcdError``.
    @discardableResult
    public func delete(_ key: String) async throws -> Int64 {
        try await delete(EtcdDeleteRequest(key: key)).deleted
    }

    /// Deletes every key starting with `prefix`.
    /// - Parameter prefix: the prefix (must not be empty: deleting every key is `delete(EtcdDeleteRequest(key: [0], rangeEnd: [0]))`).
    /// - Returns: the number of keys deleted.
    /// - Throws: ``EtcdError``.
    @discardableResult
    public func delete(prefix: String) async throws -> Int64 {
        guard !prefix.isEmpty else {
            throw EtcdError.invalidArgument("delete(prefix:) with an empty prefix would delete every key — pass a prefix, or an explicit EtcdDeleteRequest(key: [0], rangeEnd: [0])")
        }
        return try await delete(EtcdDeleteRequest.prefix(prefix)).deleted
    }

    /// Runs any DeleteRange request (key, range, prevKV).
    /// - Parameter request: the delete.
    /// - Returns: the number deleted and, with `prevKV`, the deleted key-values.
    /// - Throws: ``EtcdError``.
    @discardableResult
    public func delete(_ request: EtcdDeleteRequest) async throws -> EtcdDeleteResponse {
        try Self.validate(key: request.key)
        let (bytes, endpoint) = try await transport.unary("/etcdserverpb.KV/DeleteRange", key: request.key, request: Proto.encode(request),
                                                          idempotent: false)
        return try Proto.decodeDelete(bytes, endpoint: endpoint)
    }

    /// Runs a transaction: if every compare holds, the `success` operations run, otherwise the
    /// `failure` operations — atomically, at one revision.
    ///
    /// ```swift
    /// // compare-and-swap, returning the current value when it fails
    /// let r = try await etcd.txn(compare: [.modRevision("k", .equal, seen)],
    ///                            success: [.put("k", value: new)], failure: [.get("k")])
    /// if !r.succeeded, case .range(let now) = r.responses.first { … now.kvs.first … }
    /// ```
    /// - Parameters:
    ///   - compare: the conditions (empty: always succeeds).
    ///   - success: operations run when every compare holds.
    ///   - failure: operations run otherwise.
    /// - Returns: whether the compares held and one response per operation that ran.
    /// - Throws: ``EtcdError`` (`.invalidArgument` for empty keys or a key written twice).
    public func txn(compare: [EtcdCompare], success: [EtcdRequestOp], failure: [EtcdRequestOp]) async throws -> EtcdTxnResponse {
        for c in compare { try Self.validate(key: c.key) }
        try Self.validate(ops: success)
        try Self.validate(ops: failure)
        let readOnly = Self.isReadOnly(success) && Self.isReadOnly(failure)
        let (bytes, endpoint) = try await transport.unary(
            "/etcdserverpb.KV/Txn", key: compare.first?.key,
            request: Proto.encodeTxn(compare: compare, success: success, failure: failure),
            idempotent: readOnly)
        return try Proto.decodeTxn(bytes, endpoint: endpoint)
    }

    /// Compacts the key-value history up to `revision`: older revisions can no longer be read or watched.
    /// - Parameters:
    ///   - revision: the revision to compact to.
    ///   - physical: wait until the compaction is physically applied (default `false`).
    /// - Returns: the response header.
    /// - Throws: ``EtcdError`` (`.compacted` when already compacted past it, `.outOfRange` for a future revision).
    @discardableResult
    public func compact(revision: Int64, physical: Bool = false) async throws -> EtcdResponseHeader {
        let (bytes, endpoint) = try await transport.unary(
            "/etcdserverpb.KV/Compact", request: Proto.encodeCompaction(revision: revision, physical: physical),
            idempotent: true)
        return try Proto.decodeCompaction(bytes, endpoint: endpoint)
    }

    // MARK: Validation

    static func validate(key: [UInt8]) throws {
        guard !key.isEmpty else {
            throw EtcdError.invalidArgument("the key is empty — etcd keys must have at least one byte")
        }
    }

    static func validate(ops: [EtcdRequestOp]) throws {
        for op in ops {
            switch op.kind {
            case .range(let r): try validate(key: r.key)
            case .put(let p): try validate(key: p.key)
            case .delete(let d): try validate(key: d.key)
            case .txn(let compare, let success, let failure):
                for c in compare { try validate(key: c.key) }
                try validate(ops: success)
                try validate(ops: failure)
            }
        }
    }

    static func isReadOnly(_ ops: [EtcdRequestOp]) -> Bool {
        ops.allSatisfy { op in
            switch op.kind {
            case .range: return true
            case .put, .delete: return false
            case .txn(_, let success, let failure): return isReadOnly(success) && isReadOnly(failure)
            }
        }
    }
}
