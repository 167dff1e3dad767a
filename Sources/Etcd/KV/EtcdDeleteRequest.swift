/// A delete of one key or a range, with etcd's DeleteRange options.
public struct EtcdDeleteRequest: Sendable, Hashable {
    /// The first key (or the only key when `rangeEnd` is `nil`).
    public var key: [UInt8]
    /// The end of the range, exclusive; `nil` for the single key.
    public var rangeEnd: [UInt8]?
    /// Return the deleted key-values in ``EtcdDeleteResponse/prevKVs``.
    public var prevKV = false

    /// Deletes one key.
    public init(key: String) {
        self.key = Array(key.utf8)
    }

    /// Deletes `[key, rangeEnd)`.
    public init(key: [UInt8], rangeEnd: [UInt8]?) {
        self.key = key
        self.rangeEnd = rangeEnd
    }

    /// Deletes every key that starts with `prefix`.
    public static func prefix(_ prefix: String) -> EtcdDeleteRequest {
        let bytes = Array(prefix.utf8)
        return EtcdDeleteRequest(key: bytes.isEmpty ? [0] : bytes, rangeEnd: EtcdRangeRequest.prefixEnd(bytes))
    }
}
