/// What `timeToLive` reports about a lease.
public struct EtcdLeaseTimeToLive: Sendable, Hashable {
    /// The lease.
    public var id: EtcdLeaseID
    /// Remaining time; `nil` when the lease has expired or does not exist.
    public var remaining: Duration?
    /// The TTL the lease was granted with.
    public var grantedTTL: Duration
    /// The keys attached, when asked for.
    public var keys: [[UInt8]]
}
