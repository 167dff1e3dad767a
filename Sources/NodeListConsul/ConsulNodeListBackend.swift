import Consul


/// The node list in Consul's KV store: the key without its leading `/`, version = `ModifyIndex`.
///
/// Create-if-absent and compare-and-swap are one `cas` operation each in a transaction
/// (`PUT /v1/txn`: index 0 = only if absent, otherwise the expected `ModifyIndex`), whose result
/// carries the written entry's new `ModifyIndex` — atomically, never read back afterwards. Every
/// read that feeds a swap is `?consistent`.
public struct ConsulNodeListBackend: NodeListBackend {
    /// The client the backend uses (not shut down by it).
    public let client: ConsulClient

    /// Creates the backend over a client.
    public init(client: ConsulClient) { self.client = client }

    /// The store's name in messages.
    public var storeName: String { "Consul" }

    /// Consul's `kv_max_value_size` (512 KiB by default, `ConsulKV/maximumValueSize`).
    public func maximumValueSize(key: String) -> Int? { ConsulKV.maximumValueSize }

    static func consulKey(_ key: String) -> String {
        key.hasPrefix("/") ? String(key.dropFirst()) : key
    }

    /// Reads the list's value and version (see `NodeListBackend/read(key:)`).
    public func read(key: String) async throws -> VersionedValue? {
        try await client.kv.get(Self.consulKey(key), consistency: .consistent).map {
            VersionedValue(bytes: $0.value, version: $0.modifyIndex)
        }
    }

    /// Creates the key unless it exists (see `NodeListBackend/createIfAbsent(key:value:)`).
    public func createIfAbsent(key: String, value: [UInt8]) async throws -> CreateResult {
        while true {
            if let version = try await casTransaction(key: key, value: value, index: 0) { return .created(version: version) }
            if let current = try await read(key: key) { return .exists(current) }
        }
    }

    /// Replaces the value only at version `expected` (see `NodeListBackend/compareAndSwap(key:expected:value:)`).
    public func compareAndSwap(key: String, expected: UInt64, value: [UInt8]) async throws -> SwapResult {
        // cas=0 would mean create-if-absent; a list that exists never has index 0.
        guard expected != 0 else { return .conflict(current: try await read(key: key)) }
        if let version = try await casTransaction(key: key, value: value, index: expected) { return .swapped(version: version) }
        return .conflict(current: try await read(key: key))
    }

    /// One `cas` in a transaction: the new `ModifyIndex`, or nil when the index did not match.
    private func casTransaction(key: String, value: [UInt8], index: UInt64) async throws -> UInt64? {
        do {
            let result = try await client.kv.txn([.cas(Self.consulKey(key), value: value, index: index)])
            guard let written = result.results.first else {
                throw ConsulError(.badResponse, message: "Consul's transaction answer for \(Self.consulKey(key)) carried no entry — is this a Consul server?")
            }
            return written.modifyIndex
        } catch let error as ConsulError where error.code == .conflict {
            return nil
        }
    }

    /// The value now and after each change (see `NodeListBackend/changes(key:)`).
    public func changes(key: String) -> AsyncThrowingStream<VersionedValue?, any Error> {
        let client = self.client
        let consulKey = Self.consulKey(key)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await value in client.kv.watch(consulKey) {
                        continuation.yield(value.map { VersionedValue(bytes: $0.value, version: $0.modifyIndex) })
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

extension NodeListBackend where Self == ConsulNodeListBackend {
    /// The node list in Consul, through `client`.
    public static func consul(_ client: ConsulClient) -> ConsulNodeListBackend { ConsulNodeListBackend(client: client) }
}
