/// The header of every etcd response: which cluster and member answered, at which revision.
public struct EtcdResponseHeader: Sendable, Hashable {
    /// The ID of the cluster.
    public var clusterID: UInt64
    /// The ID of the member that answered.
    public var memberID: UInt64
    /// The key-value store's revision when the request was applied.
    public var revision: Int64
    /// The raft term when the request was applied.
    public var raftTerm: UInt64

    /// Creates a header.
    public init(clusterID: UInt64 = 0, memberID: UInt64 = 0, revision: Int64 = 0, raftTerm: UInt64 = 0) {
        self.clusterID = clusterID
        self.memberID = memberID
        self.revision = revision
        self.raftTerm = raftTerm
    }
}
