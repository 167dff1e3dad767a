/// The answer to a Txn.
public struct EtcdTxnResponse: Sendable, Hashable {
    /// Cluster, member and revision.
    public var header: EtcdResponseHeader
    /// True when every compare held and the `success` operations ran.
    public var succeeded: Bool
    /// The responses of the operations that ran, in order.
    public var responses: [EtcdResponseOp]
}
