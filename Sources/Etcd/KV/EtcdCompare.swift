/// One condition of a transaction: a key's value, version, create/mod revision or lease
/// compared with a constant. A key that does not exist has version, revisions and lease 0.
public struct EtcdCompare: Sendable, Hashable {
    /// The comparison.
    public enum Operator: Int32, Sendable {
        /// The key's target equals the constant.
        case equal = 0
        /// The key's target is greater than the constant.
        case greater = 1
        /// The key's target is less than the constant.
        case less = 2
        /// The key's target differs from the constant.
        case notEqual = 3
    }
    /// What is compared.
    public enum Target: Sendable, Hashable {
        /// The key's version (writes since creation; 0 when absent).
        case version(Int64)
        /// The revision that created the key (0 when absent).
        case createRevision(Int64)
        /// The revision of the key's last write.
        case modRevision(Int64)
        /// The key's value bytes.
        case value([UInt8])
        /// The key's lease ID (0 for none).
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
