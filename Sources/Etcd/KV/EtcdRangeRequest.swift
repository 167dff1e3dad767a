/// A read of one key or a range of keys, with all of etcd's Range options.
public struct EtcdRangeRequest: Sendable, Hashable {
    /// How results are sorted.
    public enum SortOrder: Int32, Sendable {
        /// Key order, as etcd returns it.
        case none = 0
        /// Smallest first.
        case ascend = 1
        /// Largest first.
        case descend = 2
    }
    /// What results are sorted by.
    public enum SortTarget: Int32, Sendable {
        /// The key bytes.
        case key = 0
        /// The key's version.
        case version = 1
        /// The revision that created the key.
        case createRevision = 2
        /// The revision of the key's last write.
        case modRevision = 3
        /// The value bytes.
        case value = 4
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
