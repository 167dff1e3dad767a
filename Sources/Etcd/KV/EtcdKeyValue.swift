/// A key and its value at some revision, as etcd stores it.
public struct EtcdKeyValue: Sendable, Hashable {
    /// The key's bytes.
    public var key: [UInt8]
    /// The value's bytes (empty for `keysOnly` reads).
    public var value: [UInt8]
    /// The revision at which the key was last created.
    public var createRevision: Int64
    /// The revision of the key's last modification.
    public var modRevision: Int64
    /// Number of modifications since creation (a delete resets it to 0).
    public var version: Int64
    /// The ID of the lease attached to the key, 0 for none.
    public var lease: Int64

    /// The key decoded as UTF-8 (invalid sequences replaced).
    public var keyString: String { String(decoding: key, as: UTF8.self) }
    /// The value decoded as UTF-8 (invalid sequences replaced).
    public var valueString: String { String(decoding: value, as: UTF8.self) }

    /// Creates a key-value.
    public init(key: [UInt8], value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: Int64) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }
}

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

/// The ID of an etcd lease.
public struct EtcdLeaseID: Sendable, Hashable, CustomStringConvertible {
    /// The lease's numeric ID, as etcdctl prints it in hex (`etcdctl lease list`).
    public var rawValue: Int64

    /// Wraps a numeric lease ID.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    public var description: String { String(UInt64(bitPattern: rawValue), radix: 16) }
}
