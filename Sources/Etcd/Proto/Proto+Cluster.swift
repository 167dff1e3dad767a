import CEtcdProtos

extension Proto {
    static func memberList() -> [UInt8] {
        var m = Etcdserverpb__MemberListRequest()
        etcdserverpb__member_list_request__init(&m)
        return pack(m, etcdserverpb__member_list_request__get_packed_size, etcdserverpb__member_list_request__pack)
    }

    static func strings(_ count: Int, _ items: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
        guard count > 0, let items else { return [] }
        return (0..<count).map { string(items[$0]) }
    }

    static func decodeMemberList(_ bytes: [UInt8], endpoint: EtcdEndpoint) throws -> [EtcdMember] {
        try unpack(bytes, "MemberListResponse", endpoint: endpoint, etcdserverpb__member_list_response__unpack,
                   etcdserverpb__member_list_response__free_unpacked) { m in
            list(m.n_members, m.members) { member in
                EtcdMember(id: member.id, name: string(member.name),
                           peerURLs: strings(member.n_peerurls, member.peerurls),
                           clientURLs: strings(member.n_clienturls, member.clienturls),
                           isLearner: member.islearner != 0)
            }
        }
    }

    static func status() -> [UInt8] {
        var m = Etcdserverpb__StatusRequest()
        etcdserverpb__status_request__init(&m)
        return pack(m, etcdserverpb__status_request__get_packed_size, etcdserverpb__status_request__pack)
    }

    static func decodeStatus(_ bytes: [UInt8], endpoint: EtcdEndpoint) throws -> EtcdStatus {
        try unpack(bytes, "StatusResponse", endpoint: endpoint, etcdserverpb__status_response__unpack,
                   etcdserverpb__status_response__free_unpacked) { m in
            EtcdStatus(header: header(m.header), version: string(m.version), dbSize: m.dbsize, leader: m.leader,
                       raftIndex: m.raftindex, raftTerm: m.raftterm, errors: strings(m.n_errors, m.errors),
                       isLearner: m.islearner != 0)
        }
    }
}
