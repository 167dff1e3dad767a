/// One operation of an atomic ``ZooKeeperClient/multi(_:)``.
public enum ZooKeeperOperation: Hashable, Sendable {
    /// Create a node (see ``ZooKeeperClient/create(_:data:mode:acl:)``).
    case create(String, data: [UInt8] = [], mode: ZooKeeperCreateMode = .persistent, acl: ZooKeeperACL = .openUnsafe)
    /// Set a node's data if its version matches (`-1`: any version).
    case set(String, data: [UInt8], version: Int32 = -1)
    /// Delete a node if its version matches (`-1`: any version).
    case delete(String, version: Int32 = -1)
    /// Fail the whole multi unless the node exists with this version.
    case check(String, version: Int32)

    /// The node the operation is about.
    public var path: String {
        switch self {
        case .create(let p, _, _, _), .set(let p, _, _), .delete(let p, _), .check(let p, _): p
        }
    }
}

/// The result of one operation of a successful ``ZooKeeperClient/multi(_:)``, in order.
public enum ZooKeeperOperationResult: Hashable, Sendable {
    /// The node was created at this path (with the sequential suffix, if any).
    case created(path: String)
    /// The node's data was set; its new stat.
    case set(ZooKeeperStat)
    /// The node was deleted.
    case deleted
    /// The version check passed.
    case checked
}
