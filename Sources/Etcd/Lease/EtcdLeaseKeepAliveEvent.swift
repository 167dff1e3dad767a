/// An event of a lease keep-alive.
public enum EtcdLeaseKeepAliveEvent: Sendable, Hashable {
    /// The lease was renewed; its TTL is again `ttl`.
    case renewed(ttl: Duration)
    /// The lease has expired or was revoked: its keys are gone; the keep-alive ends.
    case expired
}
