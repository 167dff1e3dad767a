/// The answer to a Put.
public struct EtcdPutResponse: Sendable, Hashable {
    /// Cluster, member and the revision the put created.
    public var header: EtcdResponseHeader
    /// The previous key-value when requested with `prevKV`.
    public var prevKV: EtcdKeyValue?
}
