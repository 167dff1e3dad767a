/// A granted lease: keys put with its ``id`` are deleted when it expires or is revoked.
public struct EtcdLease: Sendable, Hashable {
    /// The lease ID to pass to `put(_:value:lease:)`.
    public var id: EtcdLeaseID
    /// The TTL the server granted.
    public var ttl: Duration
    /// The header of the grant.
    public var header: EtcdResponseHeader
}
