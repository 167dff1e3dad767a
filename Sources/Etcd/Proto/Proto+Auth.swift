import CEtcdProtos

extension Proto {
    static func authenticateRequest(name: String, password: String) -> [UInt8] {
        let arena = ProtoArena()
        var m = Etcdserverpb__AuthenticateRequest()
        etcdserverpb__authenticate_request__init(&m)
        m.name = arena.string(name)
        m.password = arena.string(password)
        return pack(m, etcdserverpb__authenticate_request__get_packed_size, etcdserverpb__authenticate_request__pack)
    }

    static func authenticateResponse(_ bytes: [UInt8], endpoint: EtcdEndpoint) throws -> String {
        try unpack(bytes, "AuthenticateResponse", endpoint: endpoint, etcdserverpb__authenticate_response__unpack,
                   etcdserverpb__authenticate_response__free_unpacked) { string($0.token) }
    }
}
