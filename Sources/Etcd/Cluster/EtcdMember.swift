/// A member of the etcd cluster.
public struct EtcdMember: Sendable, Hashable {
    /// The member's ID.
    public var id: UInt64
    /// The member's name (empty until it has started).
    public var name: String
    /// URLs the other members reach it on.
    public var peerURLs: [String]
    /// URLs clients reach it on.
    public var clientURLs: [String]
    /// True for a non-voting learner.
    public var isLearner: Bool
}
