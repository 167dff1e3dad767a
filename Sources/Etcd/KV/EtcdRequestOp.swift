/// One operation of a transaction: a range, put, delete or a nested transaction.
public struct EtcdRequestOp: Sendable, Hashable {
    indirect enum Kind: Sendable, Hashable {
        case range(EtcdRangeRequest)
        case put(EtcdPutRequest)
        case delete(EtcdDeleteRequest)
        case txn(compare: [EtcdCompare], success: [EtcdRequestOp], failure: [EtcdRequestOp])
    }
    let kind: Kind

    /// Puts `value` at `key`, optionally attached to a lease.
    public static func put(_ key: String, value: [UInt8], lease: EtcdLeaseID? = nil) -> EtcdRequestOp {
        EtcdRequestOp(kind: .put(EtcdPutRequest(key: key, value: value, lease: lease)))
    }
    /// Reads one key.
    public static func get(_ key: String) -> EtcdRequestOp {
        EtcdRequestOp(kind: .range(EtcdRangeRequest(key: key)))
    }
    /// Deletes one key.
    public static func delete(_ key: String) -> EtcdRequestOp {
        EtcdRequestOp(kind: .delete(EtcdDeleteRequest(key: key)))
    }
    /// Any range read.
    public static func range(_ request: EtcdRangeRequest) -> EtcdRequestOp { EtcdRequestOp(kind: .range(request)) }
    /// Any put.
    public static func put(_ request: EtcdPutRequest) -> EtcdRequestOp { EtcdRequestOp(kind: .put(request)) }
    /// Any delete.
    public static func delete(_ request: EtcdDeleteRequest) -> EtcdRequestOp { EtcdRequestOp(kind: .delete(request)) }
    /// A nested transaction.
    public static func txn(compare: [EtcdCompare], success: [EtcdRequestOp], failure: [EtcdRequestOp]) -> EtcdRequestOp {
        EtcdRequestOp(kind: .txn(compare: compare, success: success, failure: failure))
    }
}
