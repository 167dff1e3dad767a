/// A granted lease: keys put with its ``id`` are deleted when it expires or is revoked.
public struct EtcdLease: Sendable, Hashable {
    /// The lease ID to pass to `put(_:value:lease:)`.
    public var id: EtcdLeaseID
    /// The TTL the server granted.
    public var ttl: Duration
    /// The header of the grant.
    public var header: EtcdResponseHeader
}

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

/// An event of a lease keep-alive.
public enum EtcdLeaseKeepAliveEvent: Sendable, Hashable {
    /// The lease was renewed; its TTL is again `ttl`.
    case renewed(ttl: Duration)
    /// The lease has expired or was revoked: its keys are gone; the keep-alive ends.
    case expired
}
