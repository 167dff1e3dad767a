import CZooKeeper

/// How ``ZooKeeperClient/create(_:data:mode:acl:)`` creates a node.
public enum ZooKeeperCreateMode: Hashable, Sendable {
    /// A node that lives until deleted.
    case persistent
    /// A node deleted by the server when the session that created it ends (closes or expires).
    case ephemeral
    /// A persistent node whose name gets a 10-digit, monotonically increasing suffix.
    case persistentSequential
    /// An ephemeral node whose name gets a 10-digit, monotonically increasing suffix.
    case ephemeralSequential
    /// A container node: the server deletes it some time after its last child is deleted.
    case container
    /// A persistent node the server deletes when it has not been modified for `ttl` and has no
    /// children. Needs `zookeeper.extendedTypesEnabled=true` on the server.
    case persistentWithTTL(Duration)
    /// ``persistentWithTTL(_:)`` with a sequential suffix.
    case persistentSequentialWithTTL(Duration)

    var cMode: Int32 {
        switch self {
        case .persistent: czk_persistent()
        case .ephemeral: czk_ephemeral()
        case .persistentSequential: czk_persistent_sequential()
        case .ephemeralSequential: czk_ephemeral_sequential()
        case .container: czk_container()
        case .persistentWithTTL: czk_persistent_with_ttl()
        case .persistentSequentialWithTTL: czk_persistent_sequential_with_ttl()
        }
    }

    /// The TTL in milliseconds for the C client, -1 for modes without one.
    var ttlMilliseconds: Int64 {
        switch self {
        case .persistentWithTTL(let ttl), .persistentSequentialWithTTL(let ttl): ttl.milliseconds
        default: -1
        }
    }

    var isSequential: Bool {
        switch self {
        case .persistentSequential, .ephemeralSequential, .persistentSequentialWithTTL: true
        default: false
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
