import CEtcdProtos

extension Proto {
    // MARK: Requests

    static func rangeRequest(_ request: EtcdRangeRequest, arena: ProtoArena) -> Etcdserverpb__RangeRequest {
        var m = Etcdserverpb__RangeRequest()
        etcdserverpb__range_request__init(&m)
        m.key = arena.bytes(request.key)
        if let end = request.rangeEnd { m.range_end = arena.bytes(end) }
        m.limit = request.limit
        m.revision = request.revision
        m.sort_order = Etcdserverpb__RangeRequest__SortOrder(rawValue: UInt32(request.sortOrder.rawValue))
        m.sort_target = Etcdserverpb__RangeRequest__SortTarget(rawValue: UInt32(request.sortTarget.rawValue))
        m.serializable = request.serializable ? 1 : 0
        m.keys_only = request.keysOnly ? 1 : 0
        m.count_only = request.countOnly ? 1 : 0
        return m
    }

    static func putRequest(_ request: EtcdPutRequest, arena: ProtoArena) -> Etcdserverpb__PutRequest {
        var m = Etcdserverpb__PutRequest()
        etcdserverpb__put_request__init(&m)
        m.key = arena.bytes(request.key)
        m.value = arena.bytes(request.value)
        m.lease = request.lease?.rawValue ?? 0
        m.prev_kv = request.prevKV ? 1 : 0
        m.ignore_value = request.ignoreValue ? 1 : 0
        m.ignore_lease = request.ignoreLease ? 1 : 0
        return m
    }

    static func deleteRequest(_ request: EtcdDeleteRequest, arena: ProtoArena) -> Etcdserverpb__DeleteRangeRequest {
        var m = Etcdserverpb__DeleteRangeRequest()
        etcdserverpb__delete_range_request__init(&m)
        m.key = arena.bytes(request.key)
        if let end = request.rangeEnd { m.range_end = arena.bytes(end) }
        m.prev_kv = request.prevKV ? 1 : 0
        return m
    }

    static func compare(_ compare: EtcdCompare, arena: ProtoArena) -> Etcdserverpb__Compare {
        var m = Etcdserverpb__Compare()
        etcdserverpb__compare__init(&m)
        m.key = arena.bytes(compare.key)
        if let end = compare.rangeEnd { m.range_end = arena.bytes(end) }
        m.result = Etcdserverpb__Compare__CompareResult(rawValue: UInt32(compare.op.rawValue))
        switch compare.target {
        case .version(let v):
            m.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION
            m.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION
            m.version = v
        case .createRevision(let v):
            m.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE
            m.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION
            m.create_revision = v
        case .modRevision(let v):
            m.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD
            m.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION
            m.mod_revision = v
        case .value(let v):
            m.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE
            m.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE
            m.value = arena.bytes(v)
        case .lease(let v):
            m.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__LEASE
            m.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_LEASE
            m.lease = v
        }
        return m
    }

    static func requestOp(_ op: EtcdRequestOp, arena: ProtoArena) -> Etcdserverpb__RequestOp {
        var m = Etcdserverpb__RequestOp()
        etcdserverpb__request_op__init(&m)
        switch op.kind {
        case .range(let r):
            m.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE
            m.request_range = arena.object(rangeRequest(r, arena: arena))
        case .put(let p):
            m.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT
            m.request_put = arena.object(putRequest(p, arena: arena))
        case .delete(let d):
            m.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE
            m.request_delete_range = arena.object(deleteRequest(d, arena: arena))
        case .txn(let compare, let success, let failure):
            m.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN
            m.request_txn = arena.object(txnRequest(compare: compare, success: success, failure: failure, arena: arena))
        }
        return m
    }

    static func txnRequest(compare: [EtcdCompare], success: [EtcdRequestOp], failure: [EtcdRequestOp],
                           arena: ProtoArena) -> Etcdserverpb__TxnRequest {
        var m = Etcdserverpb__TxnRequest()
        etcdserverpb__txn_request__init(&m)
        m.n_compare = compare.count
        m.compare = arena.array(compare.map { arena.object(Proto.compare($0, arena: arena)) })
        m.n_success = success.count
        m.success = arena.array(success.map { arena.object(requestOp($0, arena: arena)) })
        m.n_failure = failure.count
        m.failure = arena.array(failure.map { arena.object(requestOp($0, arena: arena)) })
        return m
    }

    static func encode(_ request: EtcdRangeRequest) -> [UInt8] {
        let arena = ProtoArena()
        return pack(rangeRequest(request, arena: arena), etcdserverpb__range_request__get_packed_size, etcdserverpb__range_request__pack)
    }

    static func encode(_ request: EtcdPutRequest) -> [UInt8] {
        let arena = ProtoArena()
        return pack(putRequest(request, arena: arena), etcdserverpb__put_request__get_packed_size, etcdserverpb__put_request__pack)
    }

    static func encode(_ request: EtcdDeleteRequest) -> [UInt8] {
        let arena = ProtoArena()
        return pack(deleteRequest(request, arena: arena), etcdserverpb__delete_range_request__get_packed_size,
                    etcdserverpb__delete_range_request__pack)
    }

    static func encodeTxn(compare: [EtcdCompare], success: [EtcdRequestOp], failure: [EtcdRequestOp]) -> [UInt8] {
        let arena = ProtoArena()
        return pack(txnRequest(compare: compare, success: success, failure: failure, arena: arena),
                    etcdserverpb__txn_request__get_packed_size, etcdserverpb__txn_request__pack)
    }

    static func encodeCompaction(revision: Int64, physical: Bool) -> [UInt8] {
        var m = Etcdserverpb__CompactionRequest()
        etcdserverpb__compaction_request__init(&m)
        m.revision = revision
        m.physical = physical ? 1 : 0
        return pack(m, etcdserverpb__compaction_request__get_packed_size, etcdserverpb__compaction_request__pack)
    }

    // MARK: Responses

    static func rangeResponse(_ m: Etcdserverpb__RangeResponse) -> EtcdRangeResponse {
        EtcdRangeResponse(header: header(m.header), kvs: list(m.n_kvs, m.kvs, keyValue), more: m.more != 0, count: m.count)
    }

    static func putResponse(_ m: Etcdserverpb__PutResponse) -> EtcdPutResponse {
        EtcdPutResponse(header: header(m.header), prevKV: m.prev_kv.map { keyValue($0.pointee) })
    }

    static func deleteResponse(_ m: Etcdserverpb__DeleteRangeResponse) -> EtcdDeleteResponse {
        EtcdDeleteResponse(header: header(m.header), deleted: m.deleted, prevKVs: list(m.n_prev_kvs, m.prev_kvs, keyValue))
    }

    static func txnResponse(_ m: Etcdserverpb__TxnResponse) -> EtcdTxnResponse {
        EtcdTxnResponse(header: header(m.header), succeeded: m.succeeded != 0,
                        responses: list(m.n_responses, m.responses, responseOp))
    }

    static func responseOp(_ m: Etcdserverpb__ResponseOp) -> EtcdResponseOp {
        switch m.response_case {
        case ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT:
            return .put(putResponse(m.response_put.pointee))
        case ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE:
            return .delete(deleteResponse(m.response_delete_range.pointee))
        case ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_TXN:
            return .txn(txnResponse(m.response_txn.pointee))
        default:
            if let range = m.response_range {
                return .range(rangeResponse(range.pointee))
            }
            return .range(EtcdRangeResponse(header: EtcdResponseHeader(), kvs: [], more: false, count: 0))
        }
    }

    static func decodeRange(_ bytes: [UInt8], endpoint: EtcdEndpoint?) throws -> EtcdRangeResponse {
        try unpack(bytes, "RangeResponse", endpoint: endpoint, etcdserverpb__range_response__unpack,
                   etcdserverpb__range_response__free_unpacked, rangeResponse)
    }

    static func decodePut(_ bytes: [UInt8], endpoint: EtcdEndpoint?) throws -> EtcdPutResponse {
        try unpack(bytes, "PutResponse", endpoint: endpoint, etcdserverpb__put_response__unpack,
                   etcdserverpb__put_response__free_unpacked, putResponse)
    }

    static func decodeDelete(_ bytes: [UInt8], endpoint: EtcdEndpoint?) throws -> EtcdDeleteResponse {
        try unpack(bytes, "DeleteRangeResponse", endpoint: endpoint, etcdserverpb__delete_range_response__unpack,
                   etcdserverpb__delete_range_response__free_unpacked, deleteResponse)
    }

    static func decodeTxn(_ bytes: [UInt8], endpoint: EtcdEndpoint?) throws -> EtcdTxnResponse {
        try unpack(bytes, "TxnResponse", endpoint: endpoint, etcdserverpb__txn_response__unpack,
                   etcdserverpb__txn_response__free_unpacked, txnResponse)
    }

    static func decodeCompaction(_ bytes: [UInt8], endpoint: EtcdEndpoint?) throws -> EtcdResponseHeader {
        try unpack(bytes, "CompactionResponse", endpoint: endpoint, etcdserverpb__compaction_response__unpack,
                   etcdserverpb__compaction_response__free_unpacked) { header($0.header) }
    }
}
