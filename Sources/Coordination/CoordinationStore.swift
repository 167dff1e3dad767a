/// The store the coordination recipes run on: one API shape over etcd, ZooKeeper and Consul.
///
/// ```swift
/// let store = CoordinationStore.etcd(etcd)               // or .zooKeeper(zk), .consul(consul)
/// let lock = store.lock("/locks/nightly-report")
/// try await lock.withLock { held in
///     try await runReport(fencingToken: held.token)      // cancelled the moment the lock is lost
/// }
/// ```
///
/// How each store keeps the recipes (the key given is used on every store):
///
/// | | etcd | ZooKeeper | Consul |
/// |---|---|---|---|
/// | lock entry | `KEY/<lease id hex>` bound to a lease (as `etcdctl lock`) | ephemeral sequential `KEY/_c_<uuid>-lock-N` | `KEY` acquired with a session |
/// | waiting | watch the key with the previous create revision for its delete | watch the predecessor node only | blocking query on `KEY` |
/// | fencing token | the entry's create revision | the node's czxid | the `ModifyIndex` of the acquiring write |
/// | lost when | lease expired/revoked, no renewal confirmed in TTL, key deleted/rewritten | session expired, connection dropped, node deleted/rewritten | session invalidated, no renewal confirmed in TTL, key deleted/rewritten/released |
public struct CoordinationStore: Sendable {
    package let backend: any CoordinationBackend
    /// How the recipes behave.
    public let configuration: Configuration

    /// The store's name (`etcd`, `ZooKeeper`, `Consul`).
    public var storeName: String { backend.storeName }

    /// The recipes over a backend (each store's module makes one: `.etcd(_:configuration:)` in
    /// `CoordinationEtcd`, `.zooKeeper(_:configuration:)` in `CoordinationZooKeeper`,
    /// `.consul(_:configuration:)` in `CoordinationConsul`).
    package init(backend: any CoordinationBackend, configuration: Configuration) {
        self.backend = backend
        self.configuration = configuration
    }

    /// A lock on `key`; nothing is sent until it is acquired.
    /// - Parameter key: the lock's key, e.g. `/locks/nightly-report`.
    public func lock(_ key: String) -> DistributedLock {
        DistributedLock(store: self, key: key)
    }

    /// An election at `key` in which this process campaigns with `value`.
    /// - Parameters:
    ///   - key: the election's key, e.g. `/elections/scheduler`.
    ///   - value: what observers see while this process leads (e.g. its name or address).
    public func election(_ key: String, value: [UInt8] = []) -> LeaderElection {
        LeaderElection(store: self, key: key, value: value)
    }

    /// The presence group at `group`.
    /// - Parameter group: the group's key, e.g. `/presence/workers`.
    public func presence(_ group: String) -> Presence {
        Presence(store: self, group: group)
    }
}
