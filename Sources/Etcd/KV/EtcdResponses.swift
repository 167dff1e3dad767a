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

/// The answer to a Put.
public struct EtcdPutResponse: Sendable, Hashable {
    /// Cluster, member and the revision the put created.
    public var header: EtcdResponseHeader
    /// The previous key-value when requested with `prevKV`.
    public var prevKV: EtcdKeyValue?
}

/// The answer to a DeleteRange.
public struct EtcdDeleteResponse: Sendable, Hashable {
    /// Cluster, member and revision.
    public var header: EtcdResponseHeader
    /// How many keys were deleted.
    public var deleted: Int64
    /// The deleted key-values when requested with `prevKV`.
    public var prevKVs: [EtcdKeyValue]
}

/// The answer to a Txn.
public struct EtcdTxnResponse: Sendable, Hashable {
    /// Cluster, member and revision.
    public var header: EtcdResponseHeader
    /// True when every compare held and the `success` operations ran.
    public var succeeded: Bool
    /// The responses of the operations that ran, in order.
    public var responses: [EtcdResponseOp]
}

/// The response of one operation of a transaction.
public indirect enum EtcdResponseOp: Sendable, Hashable {
    case range(EtcdRangeResponse)
    case put(EtcdPutResponse)
    case delete(EtcdDeleteResponse)
    case txn(EtcdTxnResponse)
}
