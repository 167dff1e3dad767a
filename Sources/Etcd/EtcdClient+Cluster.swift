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
}
