extension EtcdClient {
    /// The members of the cluster (Cluster.MemberList).
    /// - Returns: every member with its peer and client URLs.
    /// - Throws: ``EtcdError``.
    public func memberList() async throws -> [EtcdMember] {
        let (bytes, endpoint) = try await transport.unary("/etcdserverpb.Cluster/MemberList", request: Proto.memberList(),
                                                          idempotent: true)
        return try Proto.decodeMemberList(bytes, endpoint: endpoint)
    }

    /// The status of the member the client is connected to (Maintenance.Status): version,
    /// database size, leader, raft index and term.
    /// - Returns: the status; `header.memberID` says which member answered.
    /// - Throws: ``EtcdError``.
    public func status() async throws -> EtcdStatus {
        let (bytes, endpoint) = try await transport.unary("/etcdserverpb.Maintenance/Status", request: Proto.status(),
                                                          idempotent: true)
        return try Proto.decodeStatus(bytes, endpoint: endpoint)
    }

    /// Replaces the client's endpoints by the client URLs of the cluster's voting members
    /// (Cluster.MemberList), so members added later are used for failover too. The current
    /// connection is kept when its member is still listed.
    /// - Returns: the endpoints now in use.
    /// - Throws: ``EtcdError``; `.failedPrecondition` when no member lists a client URL.
    @discardableResult
    public func syncEndpoints() async throws -> [String] {
        let members = try await memberList()
        var endpoints: [EtcdEndpoint] = []
        for member in members where !member.isLearner {
            for url in member.clientURLs {
                if let endpoint = try? EtcdEndpoint.parse(url, defaultTLS: configuration.tls != nil),
                   !endpoints.contains(endpoint) {
                    endpoints.append(endpoint)
                }
            }
        }
        guard !endpoints.isEmpty else {
            throw EtcdError(code: .failedPrecondition,
                            message: "etcd's member list has no client URLs — keeping the configured endpoints")
        }
        transport.replaceEndpoints(endpoints)
        return endpoints.map(\.description)
    }

    /// The endpoints the client uses, in order.
    public var endpoints: [String] { transport.endpoints.map(\.description) }
}
