/// A write of one key, with all of etcd's Put options.
public struct EtcdPutRequest: Sendable, Hashable {
    /// The key.
    public var key: [UInt8]
    /// The new value.
    public var value: [UInt8]
    /// Attach the key to this lease (it is deleted when the lease expires).
    public var lease: EtcdLeaseID?
    /// Return the previous key-value in ``EtcdPutResponse/prevKV``.
    public var prevKV = false
    /// Keep the current value (update only the lease); `value` must be empty.
    public var ignoreValue = false
    /// Keep the current lease (update only the value); `lease` must be `nil`.
    public var ignoreLease = false

    /// Creates a put.
    public init(key: String, value: [UInt8], lease: EtcdLeaseID? = nil) {
        self.key = Array(key.utf8)
        self.value = value
        self.lease = lease
    }
}
