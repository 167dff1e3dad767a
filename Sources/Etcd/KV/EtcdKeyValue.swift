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
