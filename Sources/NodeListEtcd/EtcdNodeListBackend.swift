import Etcd


/// The node list in etcd: the key's bytes as given, version = `mod_revision`.
///
/// Create-if-absent is `Txn(create_revision == 0 → put, else get)`; compare-and-swap is
/// `Txn(mod_revision == v → put, else get)`, so a conflict returns the fresh value in the same
/// round trip. Reads are linearizable (etcd's default).
public struct EtcdNodeListBackend: NodeListBackend {
    /// The client the backend uses (not closed by it).
    public let client: EtcdClient

    /// Creates the backend over an open client.
    public init(client: EtcdClient) { self.client = client }

    /// The store's name in messages.
    public var storeName: String { "etcd" }

    /// Reads the list's value and version (see `NodeListBackend/read(key:)`).
    public func read(key: String) async throws -> VersionedValue? {
        try await client.get(key).map(Self.versioned)
    }

    /// Creates the key unless it exists (see `NodeListBackend/createIfAbsent(key:value:)`).
    public func createIfAbsent(key: String, value: [UInt8]) async throws -> CreateResult {
        let response = try await client.txn(
            compare: [.createRevision(key, .equal, 0)], success: [.put(key, value: value)], failure: [.get(key)])
        if response.succeeded { return .created(version: UInt64(response.header.revision)) }
        if let current = Self.rangeValue(response) { return .exists(current) }
        // Deleted between the compare and now: try again.
        return try await createIfAbsent(key: key, value: value)
    }

    /// Replaces the value only at version `expected` (see `NodeListBackend/compareAndSwap(key:expected:value:)`).
    public func compareAndSwap(key: String, expected: UInt64, value: [UInt8]) async throws -> SwapResult {
        let response = try await client.txn(
            compare: [.modRevision(key, .equal, Int64(expected))], success: [.put(key, value: value)], failure: [.get(key)])
        if response.succeeded { return .swapped(version: UInt64(response.header.revision)) }
        return .conflict(current: Self.rangeValue(response))
    }

    /// The value now and after each change (see `NodeListBackend/changes(key:)`).
    public func changes(key: String) -> AsyncThrowingStream<VersionedValue?, any Error> {
        let client = self.client
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    // A read inside a txn carries the store's revision, so the watch starts
                    // exactly after it and no change in between is missed.
                    let initial = try await client.txn(compare: [], success: [.get(key)], failure: [])
                    continuation.yield(Self.rangeValue(initial))
                    for try await event in client.watch(key, fromRevision: initial.header.revision + 1) {
                        switch event.type {
                        case .delete: continuation.yield(nil)
                        default: continuation.yield(Self.versioned(event.kv))
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The client's `maxRequestSize` (etcd's `--max-request-bytes`, 1.5 MiB by default) less
    /// what the compare-and-swap transaction carries besides the value (the key three times).
    public func maximumValueSize(key: String) -> Int? {
        client.configuration.maxRequestSize - 3 * key.utf8.count - 64
    }

    static func versioned(_ kv: EtcdKeyValue) -> VersionedValue {
        VersionedValue(bytes: kv.value, version: UInt64(kv.modRevision))
    }

    static func rangeValue(_ response: EtcdTxnResponse) -> VersionedValue? {
        for op in response.responses {
            if case .range(let range) = op, let kv = range.kvs.first { return versioned(kv) }
        }
        return nil
    }
}

extension NodeListBackend where Self == EtcdNodeListBackend {
    /// The node list in etcd, through `client`.
    public static func etcd(_ client: EtcdClient) -> EtcdNodeListBackend { EtcdNodeListBackend(client: client) }
}
