/// Why a held lock, leadership or presence entry was lost.
public enum LockLossReason: Sendable, Hashable, CustomStringConvertible {
    /// The store ended the session the lock was bound to: the ZooKeeper session expired, the etcd
    /// lease expired or was revoked, the Consul session was invalidated or destroyed.
    case sessionEnded
    /// The holder can no longer be sure the store keeps its session: no renewal confirmed within
    /// the TTL (etcd, Consul), or the connection dropped (ZooKeeper, for locks and elections).
    /// Reported *before* the store can hand the lock to another holder.
    case sessionUnconfirmed
    /// The lock's key or node was deleted by someone else.
    case keyDeleted
    /// The lock's key or node was written by someone else (another value, lease or session).
    case keyRewritten
    /// The client was closed.
    case clientClosed
    /// The store reported an error the lock cannot recover from; the message says which.
    case storeError(String)

    /// A human explanation of the reason.
    public var description: String {
        switch self {
        case .sessionEnded: "the store ended the session (expired, revoked or destroyed)"
        case .sessionUnconfirmed: "the session could not be confirmed within its TTL (or the connection dropped)"
        case .keyDeleted: "the lock's key was deleted by someone else"
        case .keyRewritten: "the lock's key was rewritten by someone else"
        case .clientClosed: "the client was closed"
        case .storeError(let message): "the store failed: \(message)"
        }
    }
}
