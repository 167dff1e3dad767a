/// The ID of an etcd lease.
public struct EtcdLeaseID: Sendable, Hashable, CustomStringConvertible {
    /// The lease's numeric ID, as etcdctl prints it in hex (`etcdctl lease list`).
    public var rawValue: Int64

    /// Wraps a numeric lease ID.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    public var description: String { String(UInt64(bitPattern: rawValue), radix: 16) }
}
