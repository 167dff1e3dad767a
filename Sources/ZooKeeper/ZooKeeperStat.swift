import CZooKeeper

/// The metadata ZooKeeper keeps for a znode.
public struct ZooKeeperStat: Hashable, Sendable {
    /// The zxid of the change that created the node.
    public var czxid: Int64
    /// The zxid of the change that last modified the node's data.
    public var mzxid: Int64
    /// Creation time, milliseconds since the epoch.
    public var ctime: Int64
    /// Last modification time, milliseconds since the epoch.
    public var mtime: Int64
    /// The number of changes to the node's data; pass it to `set`/`delete` for a compare-and-swap.
    public var version: Int32
    /// The number of changes to the node's children.
    public var cversion: Int32
    /// The number of changes to the node's ACL.
    public var aversion: Int32
    /// The session id of the owner if the node is ephemeral, otherwise 0.
    public var ephemeralOwner: Int64
    /// The length of the node's data in bytes.
    public var dataLength: Int32
    /// The number of children.
    public var numChildren: Int32
    /// The zxid of the change that last modified the node's children.
    public var pzxid: Int64

    /// Creates a stat (all fields zero by default).
    public init(czxid: Int64 = 0, mzxid: Int64 = 0, ctime: Int64 = 0, mtime: Int64 = 0, version: Int32 = 0,
                cversion: Int32 = 0, aversion: Int32 = 0, ephemeralOwner: Int64 = 0, dataLength: Int32 = 0,
                numChildren: Int32 = 0, pzxid: Int64 = 0) {
        self.czxid = czxid; self.mzxid = mzxid; self.ctime = ctime; self.mtime = mtime
        self.version = version; self.cversion = cversion; self.aversion = aversion
        self.ephemeralOwner = ephemeralOwner; self.dataLength = dataLength
        self.numChildren = numChildren; self.pzxid = pzxid
    }

    init(_ s: Stat) {
        self.init(czxid: s.czxid, mzxid: s.mzxid, ctime: s.ctime, mtime: s.mtime, version: s.version,
                  cversion: s.cversion, aversion: s.aversion, ephemeralOwner: s.ephemeralOwner,
                  dataLength: s.dataLength, numChildren: s.numChildren, pzxid: s.pzxid)
    }
}
