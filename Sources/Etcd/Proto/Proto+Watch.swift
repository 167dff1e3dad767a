import CEtcdProtos

/// A decoded WatchResponse.
struct WatchResponseMessage: Sendable {
    var header: EtcdResponseHeader
    var watchID: Int64
    var created: Bool
    var canceled: Bool
    var compactRevision: Int64
    var cancelReason: String
    var events: [EtcdWatchEvent]
}

extension Proto {
    static func watchCreate(key: [UInt8], rangeEnd: [UInt8]?, startRevision: Int64, prevKV: Bool,
                            progressNotify: Bool, watchID: Int64) -> [UInt8] {
        let arena = ProtoArena()
        var create = Etcdserverpb__WatchCreateRequest()
        etcdserverpb__watch_create_request__init(&create)
        create.key = arena.bytes(key)
        if let rangeEnd { create.range_end = arena.bytes(rangeEnd) }
        create.start_revision = startRevision
        create.prev_kv = prevKV ? 1 : 0
        create.progress_notify = progressNotify ? 1 : 0
        create.watch_id = watchID
        var m = Etcdserverpb__WatchRequest()
        etcdserverpb__watch_request__init(&m)
        m.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST
        m.create_request = arena.object(create)
        return pack(m, etcdserverpb__watch_request__get_packed_size, etcdserverpb__watch_request__pack)
    }

    static func watchCancel(watchID: Int64) -> [UInt8] {
        let arena = ProtoArena()
        var cancel = Etcdserverpb__WatchCancelRequest()
        etcdserverpb__watch_cancel_request__init(&cancel)
        cancel.watch_id = watchID
        var m = Etcdserverpb__WatchRequest()
        etcdserverpb__watch_request__init(&m)
        m.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CANCEL_REQUEST
        m.cancel_request = arena.object(cancel)
        return pack(m, etcdserverpb__watch_request__get_packed_size, etcdserverpb__watch_request__pack)
    }

    static func watchProgress() -> [UInt8] {
        let arena = ProtoArena()
        var progress = Etcdserverpb__WatchProgressRequest()
        etcdserverpb__watch_progress_request__init(&progress)
        var m = Etcdserverpb__WatchRequest()
        etcdserverpb__watch_request__init(&m)
        m.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_PROGRESS_REQUEST
        m.progress_request = arena.object(progress)
        return pack(m, etcdserverpb__watch_request__get_packed_size, etcdserverpb__watch_request__pack)
    }

    static func decodeWatchResponse(_ bytes: [UInt8], endpoint: EtcdEndpoint?) throws -> WatchResponseMessage {
        try unpack(bytes, "WatchResponse", endpoint: endpoint, etcdserverpb__watch_response__unpack,
                   etcdserverpb__watch_response__free_unpacked) { m in
            WatchResponseMessage(
                header: header(m.header), watchID: m.watch_id, created: m.created != 0, canceled: m.canceled != 0,
                compactRevision: m.compact_revision, cancelReason: string(m.cancel_reason),
                events: list(m.n_events, m.events) { event in
                    EtcdWatchEvent(
                        type: event.type == MVCCPB__EVENT__EVENT_TYPE__DELETE ? .delete : .put,
                        kv: event.kv.map { keyValue($0.pointee) }
                            ?? EtcdKeyValue(key: [], value: [], createRevision: 0, modRevision: 0, version: 0, lease: 0),
                        prevKV: event.prev_kv.map { keyValue($0.pointee) })
                })
        }
    }
}
