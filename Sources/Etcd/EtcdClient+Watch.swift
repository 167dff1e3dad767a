extension EtcdClient {
    /// Watches one key: every put and delete of it from `fromRevision` on.
    ///
    /// All watchers of a client share one gRPC Watch stream. After a reconnect the watch
    /// resumes from the last revision seen + 1, so no event is lost or repeated.
    /// - Parameters:
    ///   - key: the key (must not be empty).
    ///   - fromRevision: the first revision to report; `nil` (default) = changes after now.
    ///   - prevKV: also deliver the key-value before each event (default `false`).
    ///   - progressNotify: ask etcd for periodic progress notifications while the key is quiet
    ///     (WatchCreateRequest.progress_notify; etcd's `--experimental-watch-progress-notify-interval`,
    ///     default 10 minutes); they arrive on ``EtcdWatch/updates`` as ``EtcdWatchUpdate/progress(revision:)``
    ///     and advance the revision a resumed watch starts from (default `false`).
    /// - Returns: the events; see ``EtcdWatch`` for how it ends.
    public func watch(_ key: String, fromRevision: Int64? = nil, prevKV: Bool = false,
                      progressNotify: Bool = false) -> EtcdWatch {
        watchHub.watch(key: Array(key.utf8), rangeEnd: nil, fromRevision: fromRevision, prevKV: prevKV,
                       progressNotify: progressNotify)
    }

    /// Watches every key that starts with `prefix`.
    /// - Parameters:
    ///   - prefix: the key prefix (must not be empty).
    ///   - fromRevision: the first revision to report; `nil` (default) = changes after now.
    ///   - prevKV: also deliver the key-value before each event (default `false`).
    ///   - progressNotify: ask etcd for periodic progress notifications (see ``watch(_:fromRevision:prevKV:progressNotify:)``; default `false`).
    /// - Returns: the events; see ``EtcdWatch`` for how it ends.
    public func watch(prefix: String, fromRevision: Int64? = nil, prevKV: Bool = false,
                      progressNotify: Bool = false) -> EtcdWatch {
        let bytes = Array(prefix.utf8)
        return watchHub.watch(key: bytes, rangeEnd: EtcdRangeRequest.prefixEnd(bytes), fromRevision: fromRevision,
                              prevKV: prevKV, progressNotify: progressNotify)
    }

    /// Asks etcd for a progress notification now (WatchProgressRequest on the client's shared
    /// Watch stream): every open watcher then receives one ``EtcdWatchUpdate/progress(revision:)``
    /// on its ``EtcdWatch/updates`` carrying etcd's current revision. Sent when the stream is
    /// (re)connected if it is not open right now; does nothing when no watch is open.
    ///
    /// Unlike the periodic notifications, this answer does not move the revision a resumed watch
    /// starts from: etcd before 3.4.25/3.5.8 could send it ahead of the events of a watcher that
    /// was still catching up from an old revision (etcd issue 15220).
    public func requestWatchProgress() {
        watchHub.requestProgress()
    }

    /// Watches any key range `[key, rangeEnd)` with every option.
    /// - Parameters:
    ///   - key: the first key (must not be empty).
    ///   - rangeEnd: the end of the range, exclusive; `nil` for the single key; `[0]` for every key ≥ `key`.
    ///   - fromRevision: the first revision to report; `nil` = changes after now.
    ///   - prevKV: also deliver the key-value before each event.
    ///   - progressNotify: ask etcd for periodic progress notifications while the range is quiet;
    ///     they advance the revision a resumed watch starts from, and arrive on ``EtcdWatch/updates``
    ///     as ``EtcdWatchUpdate/progress(revision:)`` (iterating the watch itself skips them).
    /// - Returns: the events.
    public func watch(key: [UInt8], rangeEnd: [UInt8]?, fromRevision: Int64? = nil, prevKV: Bool = false,
                      progressNotify: Bool = false) -> EtcdWatch {
        watchHub.watch(key: key, rangeEnd: rangeEnd, fromRevision: fromRevision, prevKV: prevKV,
                       progressNotify: progressNotify)
    }
}
