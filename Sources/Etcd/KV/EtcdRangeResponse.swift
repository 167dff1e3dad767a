/// The answer to a Range: the keys found and the store's revision.
public struct EtcdRangeResponse: Sendable, Hashable {
    /// Cluster, member and revision of the read.
    public var header: EtcdResponseHeader
    /// The key-values found (empty for `countOnly`).
    public var kvs: [EtcdKeyValue]
    /// True when `limit` cut the result short.
    public var more: Bool
    /// How many keys are in the range (regardless of `limit`).
    public var count: Int64
}
