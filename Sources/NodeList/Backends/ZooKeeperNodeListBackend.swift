import ZooKeeper


/// The node list in ZooKeeper: the key is the znode path (missing parents are created,
/// persistent and empty), version = `stat.version`.
///
/// Create-if-absent is `create` (NodeExists → read); compare-and-swap is `set(version:)`
/// (BadVersion → read the fresh value). Writes keep a znode's ACL; the znodes the backend creates
/// (the list, its shared secret, missing parents) get ``acl``.
public struct ZooKeeperNodeListBackend: NodeListBackend {
    /// The client the backend uses (not closed by it).
    public let client: ZooKeeperClient
    /// The ACL of every znode the backend creates. Default `.openUnsafe`; with digest
    /// credentials use e.g. `.entries([.digest(user:password:)])` so that only they can read
    /// or change the list (ZooKeeper answers everyone else `noAuth`).
    public let acl: ZooKeeperACL

    /// Creates the backend over a connected client.
    /// - Parameters:
    ///   - client: The client (authenticated with `addAuth` when `acl` names an identity).
    ///   - acl: The ACL of the znodes it creates. Default `.openUnsafe`.
    public init(client: ZooKeeperClient, acl: ZooKeeperACL = .openUnsafe) {
        self.client = client
        self.acl = acl
    }

    /// The store's name in messages.
    public var storeName: String { "ZooKeeper" }

    /// Reads the list's value and version (see ``NodeListBackend/read(key:)``).
    public func read(key: String) async throws -> VersionedValue? {
        do {
            let (data, stat) = try await client.get(key)
            return VersionedValue(bytes: data, version: UInt64(stat.version))
        } catch let error as ZooKeeperError where error.code == .noNode {
            return nil
        }
    }

    /// Creates the key unless it exists (see ``NodeListBackend/createIfAbsent(key:value:)``).
    public func createIfAbsent(key: String, value: [UInt8]) async throws -> CreateResult {
        while true {
            do {
                _ = try await client.create(key, data: value, mode: .persistent, acl: acl)
                return .created(version: 0)
            } catch let error as ZooKeeperError where error.code == .noNode {
                try await createParents(of: key)
            } catch let error as ZooKeeperError where error.code == .nodeExists {
                if let current = try await freshRead(key: key) { return .exists(current) }
                // Deleted again in between: try to create it once more.
            }
        }
    }

    /// Replaces the value only at version `expected` (see ``NodeListBackend/compareAndSwap(key:expected:value:)``).
    public func compareAndSwap(key: String, expected: UInt64, value: [UInt8]) async throws -> SwapResult {
        guard let version = Int32(exactly: expected) else { return .conflict(current: try await read(key: key)) }
        do {
            let stat = try await client.set(key, data: value, version: version)
            return .swapped(version: UInt64(stat.version))
        } catch let error as ZooKeeperError where error.code == .badVersion || error.code == .noNode {
            return .conflict(current: try await freshRead(key: key))
        }
    }

    /// A read after a conflict: `sync` first, so a lagging follower cannot hand back the very
    /// value that just lost (which would only cost another conflict).
    func freshRead(key: String) async throws -> VersionedValue? {
        try await client.sync(key)
        return try await read(key: key)
    }

    /// The value now and after each change (see ``NodeListBackend/changes(key:)``).
    public func changes(key: String) -> AsyncThrowingStream<VersionedValue?, any Error> {
        let watch = client.watch(key)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    // The watch's first event is the node as it is once armed; each later one
                    // is the node after a change (quick successive changes may coalesce).
                    for try await event in watch {
                        guard let stat = event.stat else {
                            continuation.yield(nil)
                            continue
                        }
                        continuation.yield(VersionedValue(bytes: event.data ?? [], version: UInt64(stat.version)))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The client's ``ZooKeeperClient/maximumDataSize`` (ZooKeeper's `jute.maxbuffer`, 1 MiB by default).
    public func maximumValueSize(key: String) -> Int? { client.maximumDataSize }

    /// Creates each missing ancestor of `path` as a persistent, empty znode with ``acl``.
    func createParents(of path: String) async throws {
        var prefix = ""
        for component in path.split(separator: "/").dropLast() {
            prefix += "/" + component
            do {
                _ = try await client.create(prefix, data: [], mode: .persistent, acl: acl)
            } catch let error as ZooKeeperError where error.code == .nodeExists {
            }
        }
    }
}

extension NodeListBackend where Self == ZooKeeperNodeListBackend {
    /// The node list in ZooKeeper, through `client`; the znodes it creates get `acl`
    /// (default `.openUnsafe`).
    public static func zooKeeper(_ client: ZooKeeperClient, acl: ZooKeeperACL = .openUnsafe) -> ZooKeeperNodeListBackend {
        ZooKeeperNodeListBackend(client: client, acl: acl)
    }
}
