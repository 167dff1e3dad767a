/// A member's status, from Maintenance.Status.
public struct EtcdStatus: Sendable, Hashable {
    /// Header, with the ID of the member that answered.
    public var header: EtcdResponseHeader
    /// The server's version, e.g. "3.4.23".
    public var version: String
    /// Size of the backend database in bytes.
    public var dbSize: Int64
    /// The ID of the current leader (0: none).
    public var leader: UInt64
    /// The current raft index.
    public var raftIndex: UInt64
    /// The current raft term.
    public var raftTerm: UInt64
    /// Alarms and errors the member reports.
    public var errors: [String]
    /// True for a learner.
    public var isLearner: Bool
}
