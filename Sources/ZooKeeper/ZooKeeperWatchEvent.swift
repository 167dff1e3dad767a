/// A change seen by a ``ZooKeeperWatch``: what happened and the node's state after it.
public struct ZooKeeperWatchEvent: Hashable, Sendable {
    /// What happened.
    public enum Kind: Hashable, Sendable {
        /// The first event of every watch: the node's state when the watch was armed.
        case initial
        /// The node was created (or deleted and re-created).
        case created
        /// The node's data changed (``ZooKeeperClient/watch(_:)``).
        case changed
        /// The node was deleted.
        case deleted
        /// The node's list of children changed (``ZooKeeperClient/watchChildren(_:)``).
        case childrenChanged
    }

    /// What happened.
    public var kind: Kind
    /// The watched path (relative to the chroot, if any).
    public var path: String
    /// The node's stat after the change; `nil` when the node does not exist.
    public var stat: ZooKeeperStat?
    /// For ``ZooKeeperClient/watch(_:)``: the node's data after the change; `nil` when the node
    /// does not exist or for ``ZooKeeperClient/watchChildren(_:)``.
    public var data: [UInt8]?
    /// For ``ZooKeeperClient/watchChildren(_:)``: the children (sorted) after the change; `nil`
    /// when the node does not exist or for ``ZooKeeperClient/watch(_:)``.
    public var children: [String]?

    /// True when the node exists after this event.
    public var exists: Bool { stat != nil }

    /// Creates an event.
    public init(kind: Kind, path: String, stat: ZooKeeperStat?, data: [UInt8]? = nil, children: [String]? = nil) {
        self.kind = kind
        self.path = path
        self.stat = stat
        self.data = data
        self.children = children
    }
}
