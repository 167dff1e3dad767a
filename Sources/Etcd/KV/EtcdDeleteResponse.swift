/// The answer to a DeleteRange.
public struct EtcdDeleteResponse: Sendable, Hashable {
    /// Cluster, member and revision.
    public var header: EtcdResponseHeader
    /// How many keys were deleted.
    public var deleted: Int64
    /// The deleted key-values when requested with `prevKV`.
    public var prevKVs: [EtcdKeyValue]
}
