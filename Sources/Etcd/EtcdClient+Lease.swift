extension EtcdClient {
    /// Grants a lease: keys put with its ID are deleted when it expires or is revoked.
    /// - Parameters:
    ///   - ttl: the time to live, in whole seconds (rounded up; etcd may grant a minimum of its own).
    ///   - id: a specific lease ID, or `nil` (default) to let etcd choose.
    /// - Returns: the lease with the TTL etcd granted.
    /// - Throws: ``EtcdError`` (`.invalidArgument` for a TTL under one second).
    public func grantLease(ttl: Duration, id: EtcdLeaseID? = nil) async throws -> EtcdLease {
        let seconds = Self.wholeSeconds(ttl)
        guard seconds >= 1 else {
            throw EtcdError.invalidArgument("a lease TTL must be at least 1 second (got \(ttl))")
        }
        let (bytes, endpoint) = try await transport.unary("/etcdserverpb.Lease/LeaseGrant",
                                                          request: Proto.leaseGrant(ttl: seconds, id: id?.rawValue ?? 0),
                                                          idempotent: false)
        let response = try Proto.decodeLeaseGrant(bytes, endpoint: endpoint)
        if !response.error.isEmpty {
            throw EtcdError(code: .failedPrecondition, message: "etcd at \(endpoint) refused the lease: \(response.error)",
                            serverMessage: response.error, endpoint: endpoint.description)
        }
        return EtcdLease(id: EtcdLeaseID(response.id), ttl: .seconds(response.ttl), header: response.header)
    }

    /// Revokes a lease: its keys are deleted at once.
    /// - Parameter id: the lease.
    /// - Returns: the response header (its revision is the deletion's).
    /// - Throws: ``EtcdError`` (`.notFound` when the lease does not exist or already expired).
    @discardableResult
    public func revokeLease(_ id: EtcdLeaseID) async throws -> EtcdResponseHeader {
        let (bytes, endpoint) = try await transport.unary("/etcdserverpb.Lease/LeaseRevoke",
                                                          request: Proto.leaseRevoke(id: id.rawValue), idempotent: true)
        return try Proto.decodeLeaseRevoke(bytes, endpoint: endpoint)
    }

    /// How long a lease has left, and optionally its keys.
    /// - Parameters:
    ///   - id: the lease.
    ///   - keys: also list the keys attached to it (default `false`).
    /// - Returns: the remaining time (`nil` when the lease has expired or never existed).
    /// - Throws: ``EtcdError``.
    public func leaseTimeToLive(_ id: EtcdLeaseID, keys: Bool = false) async throws -> EtcdLeaseTimeToLive {
        let (bytes, endpoint) = try await transport.unary("/etcdserverpb.Lease/LeaseTimeToLive",
                                                          request: Proto.leaseTimeToLive(id: id.rawValue, keys: keys),
                                                          idempotent: true)
        return try Proto.decodeLeaseTimeToLive(bytes, endpoint: endpoint)
    }

    /// Every live lease of the cluster.
    /// - Returns: the lease IDs.
    /// - Throws: ``EtcdError``.
    public func leases() async throws -> [EtcdLeaseID] {
        let (bytes, endpoint) = try await transport.unary("/etcdserverpb.Lease/LeaseLeases", request: Proto.leaseLeases(),
                                                          idempotent: true)
        return try Proto.decodeLeaseLeases(bytes, endpoint: endpoint)
    }

    /// Keeps a granted lease alive until the returned sequence is dropped or the lease is lost.
    ///
    /// ```swift
    /// let lease = try await etcd.grantLease(ttl: .seconds(10))
    /// try await etcd.put("/nodes/me", value: me, lease: lease.id)
    /// for try await event in etcd.keepAlive(lease) {
    ///     if event == .expired { /* the key is gone: re-register */ }
    /// }
    /// ```
    ///
    /// The lease's first deadline is this call + `lease.ttl`; each answered renewal moves it to
    /// that renewal's send + the TTL etcd answered. When the deadline passes unrenewed — etcd
    /// unreachable, frozen or never answering — the sequence yields
    /// ``EtcdLeaseKeepAliveEvent/expired`` and ends: at most one TTL + one tick (200 ms) after
    /// this call or the last answered renewal, even if no renewal is ever answered. When etcd
    /// answers that the lease is gone (expired or revoked) it yields `.expired` at once.
    /// Renewals are sent at a third of the TTL (at least 500 ms apart) whether or not they are
    /// answered, plus one when the shared stream is re-opened; see ``EtcdLeaseKeepAlive``.
    /// - Parameter lease: the lease, as ``grantLease(ttl:id:)`` returned it. Its TTL counts from
    ///   this call: pass it soon after the grant.
    /// - Returns: the renewals; see ``EtcdLeaseKeepAlive``.
    public func keepAlive(_ lease: EtcdLease) -> EtcdLeaseKeepAlive {
        leaseKeeper.keepAlive(lease.id, ttl: lease.ttl)
    }

    /// Keeps lease `id`, of TTL `ttl`, alive until the returned sequence is dropped or the lease
    /// is lost — as ``keepAlive(_:)-(EtcdLease)``: the first deadline is this call + `ttl`, and
    /// `.expired` comes at most one TTL + one tick (200 ms) after this call or the last answered
    /// renewal.
    /// - Parameters:
    ///   - id: the lease.
    ///   - ttl: its TTL (the granted one; a shorter one only makes the local expiry earlier).
    ///     Zero or less is unknown: then as ``keepAlive(_:)-(EtcdLeaseID)``.
    /// - Returns: the renewals; see ``EtcdLeaseKeepAlive``.
    public func keepAlive(_ id: EtcdLeaseID, ttl: Duration) -> EtcdLeaseKeepAlive {
        leaseKeeper.keepAlive(id, ttl: ttl)
    }

    /// Keeps lease `id` alive until the returned sequence is dropped or the lease is lost, when
    /// its TTL is not at hand (prefer ``keepAlive(_:)-(EtcdLease)``).
    ///
    /// The TTL is learnt first with a LeaseTimeToLive call (as ``leaseTimeToLive(_:keys:)``, with
    /// its retries and ``EtcdClient/Configuration-swift.struct/timeouts``): when etcd reports the lease
    /// unknown or expired the sequence yields ``EtcdLeaseKeepAliveEvent/expired`` and ends; when
    /// the call fails for good the sequence ends with its ``EtcdError``, so it never waits
    /// longer than that call may take. Then the first deadline is the call's send + the
    /// remaining time etcd reported, and everything is as ``keepAlive(_:)-(EtcdLease)``:
    /// `.expired` at most one TTL + one tick (200 ms) after the last answered renewal.
    /// - Parameter id: the lease.
    /// - Returns: the renewals; see ``EtcdLeaseKeepAlive``.
    public func keepAlive(_ id: EtcdLeaseID) -> EtcdLeaseKeepAlive {
        leaseKeeper.keepAlive(id, ttl: nil)
    }

    static func wholeSeconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return attoseconds > 0 ? seconds + 1 : seconds
    }
}
