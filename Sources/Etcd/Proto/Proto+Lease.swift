import CEtcdProtos

extension Proto {
    static func leaseGrant(ttl: Int64, id: Int64) -> [UInt8] {
        var m = Etcdserverpb__LeaseGrantRequest()
        etcdserverpb__lease_grant_request__init(&m)
        m.ttl = ttl
        m.id = id
        return pack(m, etcdserverpb__lease_grant_request__get_packed_size, etcdserverpb__lease_grant_request__pack)
    }

    static func decodeLeaseGrant(_ bytes: [UInt8], endpoint: EtcdEndpoint) throws -> (header: EtcdResponseHeader, id: Int64, ttl: Int64, error: String) {
        try unpack(bytes, "LeaseGrantResponse", endpoint: endpoint, etcdserverpb__lease_grant_response__unpack,
                   etcdserverpb__lease_grant_response__free_unpacked) { (header($0.header), $0.id, $0.ttl, string($0.error)) }
    }

    static func leaseRevoke(id: Int64) -> [UInt8] {
        var m = Etcdserverpb__LeaseRevokeRequest()
        etcdserverpb__lease_revoke_request__init(&m)
        m.id = id
        return pack(m, etcdserverpb__lease_revoke_request__get_packed_size, etcdserverpb__lease_revoke_request__pack)
    }

    static func decodeLeaseRevoke(_ bytes: [UInt8], endpoint: EtcdEndpoint) throws -> EtcdResponseHeader {
        try unpack(bytes, "LeaseRevokeResponse", endpoint: endpoint, etcdserverpb__lease_revoke_response__unpack,
                   etcdserverpb__lease_revoke_response__free_unpacked) { header($0.header) }
    }

    static func leaseKeepAlive(id: Int64) -> [UInt8] {
        var m = Etcdserverpb__LeaseKeepAliveRequest()
        etcdserverpb__lease_keep_alive_request__init(&m)
        m.id = id
        return pack(m, etcdserverpb__lease_keep_alive_request__get_packed_size, etcdserverpb__lease_keep_alive_request__pack)
    }

    static func decodeLeaseKeepAlive(_ bytes: [UInt8], endpoint: EtcdEndpoint) throws -> (id: Int64, ttl: Int64) {
        try unpack(bytes, "LeaseKeepAliveResponse", endpoint: endpoint, etcdserverpb__lease_keep_alive_response__unpack,
                   etcdserverpb__lease_keep_alive_response__free_unpacked) { ($0.id, $0.ttl) }
    }

    static func leaseTimeToLive(id: Int64, keys: Bool) -> [UInt8] {
        var m = Etcdserverpb__LeaseTimeToLiveRequest()
        etcdserverpb__lease_time_to_live_request__init(&m)
        m.id = id
        m.keys = keys ? 1 : 0
        return pack(m, etcdserverpb__lease_time_to_live_request__get_packed_size, etcdserverpb__lease_time_to_live_request__pack)
    }

    static func decodeLeaseTimeToLive(_ bytes: [UInt8], endpoint: EtcdEndpoint) throws -> EtcdLeaseTimeToLive {
        try unpack(bytes, "LeaseTimeToLiveResponse", endpoint: endpoint, etcdserverpb__lease_time_to_live_response__unpack,
                   etcdserverpb__lease_time_to_live_response__free_unpacked) { m in
            var keys: [[UInt8]] = []
            if m.n_keys > 0, let pointer = m.keys {
                for i in 0..<m.n_keys { keys.append(Self.bytes(pointer[i])) }
            }
            return EtcdLeaseTimeToLive(id: EtcdLeaseID(m.id), remaining: m.ttl > 0 ? .seconds(m.ttl) : nil,
                                       grantedTTL: .seconds(m.grantedttl), keys: keys)
        }
    }

    static func leaseLeases() -> [UInt8] {
        var m = Etcdserverpb__LeaseLeasesRequest()
        etcdserverpb__lease_leases_request__init(&m)
        return pack(m, etcdserverpb__lease_leases_request__get_packed_size, etcdserverpb__lease_leases_request__pack)
    }

    static func decodeLeaseLeases(_ bytes: [UInt8], endpoint: EtcdEndpoint) throws -> [EtcdLeaseID] {
        try unpack(bytes, "LeaseLeasesResponse", endpoint: endpoint, etcdserverpb__lease_leases_response__unpack,
                   etcdserverpb__lease_leases_response__free_unpacked) { m in
            list(m.n_leases, m.leases) { EtcdLeaseID($0.id) }
        }
    }
}
