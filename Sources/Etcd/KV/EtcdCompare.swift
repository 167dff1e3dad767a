/// One condition of a transaction: a key's value, version, create/mod revision or lease
/// compared with a constant. A key that does not exist has version, revisions and lease 0.
public struct EtcdCompare: Sendable, Hashable {
    /// The comparison.
    public enum Operator: Int32, Sendable {
        case equal = 0, greater = 1, less = 2, notEqual = 3
    }
    /// What is compared.
    public enum Target: Sendable, Hashable {
        case version(Int64)
        case createRevision(Int64)
        case modRevision(Int64)
        case value([UInt8])
        case lease(Int64)
    }

    /// The key compared.
    public var key: [UInt8]
    /// With a range end, the compare must hold for every key in `[key, rangeEnd)`.
    public var rangeEnd: [UInt8]?
    /// The comparison.
    public var op: Operator
    /// What is compared and with which constant.
    public var target: Target

    /// Creates a compare.
    public init(key: [UInt8], rangeEnd: [UInt8]? = nil, op: Operator, target: Target) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.op = op
        self.target = target
    }

    /// Compares the key's create revision (0 = the key does not exist).
    public static func createRevision(_ key: String, _ op: Operator, _ revision: Int64) -> EtcdCompare {
        EtcdCompare(key: Array(key.utf8), op: op, target: .createRevision(revision))
    }
    /// Compares the key's last modification revision.
    public static func modRevision(_ key: String, _ op: Operator, _ revision: Int64) -> EtcdCompare {
        EtcdCompare(key: Array(key.utf8), op: op, target: .modRevision(revision))
    }
    /// Compares the key's version (number of writes since creation; 0 = absent).
    public static func version(_ key: String, _ op: Operator, _ version: Int64) -> EtcdCompare {
        EtcdCompare(key: Array(key.utf8), op: op, target: .version(version))
    }
    /// Compares the key's value bytes.
    public static func value(_ key: String, _ op: Operator, _ value: [UInt8]) -> EtcdCompare {
        EtcdCompare(key: Array(key.utf8), op: op, target: .value(value))
    }
    /// Compares the key's lease (0 = none).
    public static func lease(_ key: String, _ op: Operator, _ lease: EtcdLeaseID?) -> EtcdCompare {
        EtcdCompare(key: Array(key.utf8), op: op, target: .lease(lease?.rawValue ?? 0))
    }
}

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
