extension EtcdClient {
    /// Watches one key: every put and delete of it from `fromRevision` on.
    ///
    /// All watchers of a client share one gRPC Watch stream. After a reconnect the watch
    /// resumes from the last revision seen + 1, so no event is lost or repeated.
    /// - Parameters:
    ///   - key: the key (must not be empty).
    ///   - fromRevision: the first revision to report; `nil` (default) = changes after now.
    ///   - prevKV: also deliver the key-value before each event (default `false`).
    /// - Returns: the events; see ``EtcdWatch`` for how it ends.
    public func watch(_ key: String, fromRevision: Int64? = nil, prevKV: Bool = false) -> EtcdWatch {
        watchHub.watch(key: Array(key.utf8), rangeEnd: nil, fromRevision: fromRevision, prevKV: prevKV,
                       progressNotify: false)
    }

    /// Watches every key that starts with `prefix`.
    /// - Parameters:
    ///   - prefix: the key prefix (must not be empty).
    ///   - fromRevision: the first revision to report; `nil` (default) = changes after now.
    ///   - prevKV: also deliver the key-value before each event (default `false`).
    /// - Returns: the events; see ``EtcdWatch`` for how it ends.
    public func watch(prefix: String, fromRevision: Int64? = nil, prevKV: Bool = false) -> EtcdWatch {
        let bytes = Array(prefix.utf8)
        return watchHub.watch(key: bytes, rangeEnd: EtcdRangeRequest.prefixEnd(bytes), fromRevision: fromRevision,
                              prevKV: prevKV, progressNotify: false)
    }

    /// Watches any key range `[key, rangeEnd)` with every option.
    /// - Parameters:
    ///   - key: the first key (must not be empty).
    ///   - rangeEnd: the end of the range, exclusive; `nil` for the single key; `[0]` for every key ≥ `key`.
    ///   - fromRevision: the first revision to report; `nil` = changes after now.
    ///   - prevKV: also deliver the key-value before each event.
    ///   - progressNotify: ask etcd for periodic progress notifications while the range is quiet;
    ///     they advance the revision a resumed watch starts from (they are not delivered as events).
    /// - Returns: the events.
    public func watch(key: [UInt8], rangeEnd: [UInt8]?, fromRevision: Int64? = nil, prevKV: Bool = false,
                      progressNotify: Bool = false) -> EtcdWatch {
        watchHub.watch(key: key, rangeEnd: rangeEnd, fromRevision: fromRevision, prevKV: prevKV,
                       progressNotify: progressNotify)
    }
}
