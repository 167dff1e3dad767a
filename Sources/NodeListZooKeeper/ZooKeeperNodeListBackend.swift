import NIOConcurrencyHelpers
import ZooKeeper


/// The node list in ZooKeeper: the key is the znode path (missing parents are created,
/// persistent and empty); the version is the znode's `mzxid`, which is unique across the whole
/// ensemble's history, so a deleted and re-created list never repeats an old version.
///
/// Every list znode the backend writes has one empty child, `nodelist-generation-<random>`,
/// created with the znode. A compare-and-swap is one `multi`: `check` that child (it vanishes
/// with the znode: a list cannot be deleted while it has children) and `set(version:)` the list
/// — so a writer that read an earlier znode at that path can never overwrite a re-created one,
/// even when the new znode's `stat.version` happens to equal the old one's. A list created
/// without the child (by an older version or by hand) gets one with its first swap.
///
/// Reads that feed a compare-and-swap are consistent: `sync`, then `get`. Writes keep a znode's
/// ACL; the znodes the backend creates (the list, its generation child, its shared secret,
/// missing parents) get ``acl``.
public struct ZooKeeperNodeListBackend: NodeListBackend {
    /// The client the backend uses (not closed by it).
    public let client: ZooKeeperClient
    /// The ACL of every znode the backend creates. Default `.openUnsafe`; with digest
    /// credentials use e.g. `.entries([.digest(user:password:)])` so that only they can read
    /// or change the list (ZooKeeper answers everyone else `noAuth`).
    public let acl: ZooKeeperACL
    /// What the last read of each key found, so a swap against that read's version knows the
    /// znode's `stat.version` and generation without another round trip.
    private let reads = NIOLockedValueBox([String: ReadState]())

    struct ReadState: Sendable, Hashable {
        var mzxid: Int64
        var version: Int32
        var generation: String?
    }

    static let generationPrefix = "nodelist-generation-"

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

    static func version(_ stat: ZooKeeperStat) -> UInt64 { UInt64(bitPattern: stat.mzxid) }

    /// Reads the list's value and version after a `sync`, so it is at least as new as every write
    /// committed before the call (see `NodeListBackend/read(key:)`).
    public func read(key: String) async throws -> VersionedValue? {
        try await client.sync(key)
        return try await plainRead(key: key)
    }

    private func plainRead(key: String) async throws -> VersionedValue? {
        do {
            let (data, stat) = try await client.get(key)
            var generation: String?
            if stat.numChildren > 0 {
                generation = try await client.children(key).first { $0.hasPrefix(Self.generationPrefix) }
            }
            reads.withLockedValue { $0[key] = ReadState(mzxid: stat.mzxid, version: stat.version, generation: generation) }
            return VersionedValue(bytes: data, version: Self.version(stat))
        } catch let error as ZooKeeperError where error.code == .noNode {
            _ = reads.withLockedValue { $0.removeValue(forKey: key) }
            return nil
        }
    }

    static func newGeneration() -> String {
        var generator = SystemRandomNumberGenerator()
        return generationPrefix + (0..<16).map { _ in String(UInt8.random(in: 0...255, using: &generator), radix: 16) }.joined()
    }

    /// Creates the key (with its generation child) unless it exists (see `NodeListBackend/createIfAbsent(key:value:)`).
    public func createIfAbsent(key: String, value: [UInt8]) async throws -> CreateResult {
        while true {
            let generation = Self.newGeneration()
            do {
                let results = try await client.multi([
                    .create(key, data: value, mode: .persistent, acl: acl),
                    .create(key + "/" + generation, data: [], mode: .persistent, acl: acl),
                    .check(key, version: 0),
                ])
                _ = results
                // The created znode's mzxid is the zxid of this multi; read it back through the
                // generation child's stat (same transaction, so the same zxid).
                guard let stat = try await client.exists(key + "/" + generation) else { continue }
                reads.withLockedValue { $0[key] = ReadState(mzxid: stat.czxid, version: 0, generation: generation) }
                return .created(version: UInt64(bitPattern: stat.czxid))
            } catch let error as ZooKeeperError where error.code == .noNode {
                try await createParents(of: key)
            } catch let error as ZooKeeperError where error.code == .nodeExists {
                if let current = try await read(key: key) { return .exists(current) }
                // Deleted again in between: try to create it once more.
            }
        }
    }

    /// Replaces the value only at version `expected` (see `NodeListBackend/compareAndSwap(key:expected:value:)`).
    public func compareAndSwap(key: String, expected: UInt64, value: [UInt8]) async throws -> SwapResult {
        var known = reads.withLockedValue { $0[key] }
        if known.map({ Self.version(mzxid: $0.mzxid) }) != expected {
            let fresh = try await read(key: key)
            guard let fresh, fresh.version == expected else { return .conflict(current: fresh) }
            known = reads.withLockedValue { $0[key] }
        }
        guard let known else { return .conflict(current: try await read(key: key)) }
        var operations: [ZooKeeperOperation] = []
        var generation = known.generation
        if let generation {
            operations.append(.check(key + "/" + generation, version: 0))
            operations.append(.set(key, data: value, version: known.version))
        } else {
            let created = Self.newGeneration()
            generation = created
            operations.append(.set(key, data: value, version: known.version))
            operations.append(.create(key + "/" + created, data: [], mode: .persistent, acl: acl))
        }
        do {
            let results = try await client.multi(operations)
            for case .set(let stat) in results {
                reads.withLockedValue { $0[key] = ReadState(mzxid: stat.mzxid, version: stat.version, generation: generation) }
                return .swapped(version: Self.version(stat))
            }
            return .conflict(current: try await read(key: key))
        } catch let error as ZooKeeperError where error.code == .badVersion || error.code == .noNode || error.code == .nodeExists {
            return .conflict(current: try await read(key: key))
        }
    }

    static func version(mzxid: Int64) -> UInt64 { UInt64(bitPattern: mzxid) }

    /// The value now and after each change (see `NodeListBackend/changes(key:)`).
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
                        continuation.yield(VersionedValue(bytes: event.data ?? [], version: Self.version(stat)))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The client's `ZooKeeperClient/maximumDataSize` (ZooKeeper's `jute.maxbuffer`, 1 MiB by default).
    public func maximumValueSize(key: String) -> Int? { client.maximumDataSize }

    /// Creates each missing ancestor of `path` as a persistent, empty znode with ``acl``.
    package func createParents(of path: String) async throws {
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
