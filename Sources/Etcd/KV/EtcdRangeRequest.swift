/// A read of one key or a range of keys, with all of etcd's Range options.
public struct EtcdRangeRequest: Sendable, Hashable {
    /// How results are sorted.
    public enum SortOrder: Int32, Sendable {
        /// Key order, as etcd returns it.
        case none = 0, ascend = 1, descend = 2
    }
    /// What results are sorted by.
    public enum SortTarget: Int32, Sendable {
        case key = 0, version = 1, createRevision = 2, modRevision = 3, value = 4
    }

    /// The first key (or the only key when `rangeEnd` is `nil`).
    public var key: [UInt8]
    /// The end of the range, exclusive; `nil` for the single key `key`; `[0]` for every key ≥ `key`.
    public var rangeEnd: [UInt8]?
    /// At most this many keys; 0 = no limit.
    public var limit: Int64 = 0
    /// Read at this revision; 0 = the latest.
    public var revision: Int64 = 0
    /// Answer from the member's local state without a quorum read (may be stale).
    public var serializable = false
    /// Return keys without values.
    public var keysOnly = false
    /// Return only the count.
    public var countOnly = false
    /// Sort order.
    public var sortOrder: SortOrder = .none
    /// Sort target.
    public var sortTarget: SortTarget = .key

    /// Reads one key.
    public init(key: String) {
        self.key = Array(key.utf8)
        self.rangeEnd = nil
    }

    /// Reads `[key, rangeEnd)`.
    public init(key: [UInt8], rangeEnd: [UInt8]?) {
        self.key = key
        self.rangeEnd = rangeEnd
    }

    /// Every key that starts with `prefix` (every key when `prefix` is empty).
    public static func prefix(_ prefix: String) -> EtcdRangeRequest {
        let bytes = Array(prefix.utf8)
        return EtcdRangeRequest(key: bytes.isEmpty ? [0] : bytes, rangeEnd: EtcdRangeRequest.prefixEnd(bytes))
    }

    /// Every key ≥ `key`.
    public static func fromKey(_ key: String) -> EtcdRangeRequest {
        EtcdRangeRequest(key: Array(key.utf8), rangeEnd: [0])
    }

    /// The range end that covers every key starting with `prefix`: the prefix with its last
    /// byte below 0xff incremented; `[0]` (all keys) when there is none.
    static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xff {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }
}

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
