/// The response of one operation of a transaction.
public indirect enum EtcdResponseOp: Sendable, Hashable {
    /// The answer to a ``EtcdRequestOp/get(_:)`` or range operation.
    case range(EtcdRangeResponse)
    /// The answer to a put operation.
    case put(EtcdPutResponse)
    /// The answer to a delete operation.
    case delete(EtcdDeleteResponse)
    /// The answer to a nested transaction.
    case txn(EtcdTxnResponse)
}
