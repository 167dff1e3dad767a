/// One element of ``EtcdWatch/updates``: an event, or a progress notification.
public enum EtcdWatchUpdate: Sendable, Hashable {
    /// A put or delete of a watched key (the same events ``EtcdWatch`` yields).
    case event(EtcdWatchEvent)
    /// A progress notification: etcd's store is at `revision`, and every event of this watch up
    /// to it has been delivered. They come every `--experimental-watch-progress-notify-interval`
    /// (default 10 minutes) to watchers created with `progressNotify: true` while they see no
    /// events, and to every watcher once after ``EtcdClient/requestWatchProgress()``.
    case progress(revision: Int64)
}

/// The events and progress notifications of one watcher, as an `AsyncSequence`; see
/// ``EtcdWatch/updates``. It ends the way ``EtcdWatch`` does.
public struct EtcdWatchUpdates: AsyncSequence, Sendable {
    /// Each element is one event or one progress notification.
    public typealias Element = EtcdWatchUpdate

    let updates: AsyncThrowingStream<EtcdWatchUpdate, any Error>
    let gauge: WatchBufferGauge?

    /// The iterator of an ``EtcdWatchUpdates``.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<EtcdWatchUpdate, any Error>.AsyncIterator
        let gauge: WatchBufferGauge?

        /// The next event or progress notification.
        public mutating func next() async throws -> EtcdWatchUpdate? {
            let update = try await base.next()
            if update != nil { gauge?.consumed() }
            return update
        }
    }

    /// Starts iterating.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: updates.makeAsyncIterator(), gauge: gauge)
    }
}
