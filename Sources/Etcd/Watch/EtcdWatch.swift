/// The events of one watcher, as an `AsyncSequence`.
///
/// Events arrive in revision order. After a reconnect (or a move to another member) the
/// watch resumes from the last revision seen + 1, so no event is lost or repeated. The
/// sequence ends by throwing ``EtcdError`` — `.compacted` (with ``EtcdError/compactRevision``)
/// when the start revision was compacted, `.watchCanceled` when etcd cancelled the watch,
/// `.closed` when the client was closed. Ending the iteration (leaving the `for` loop, or
/// cancelling its task) and dropping the sequence cancels the watcher on the server.
/// Up to ``EtcdClient/Configuration/watchBufferLimit`` updates (default 10,000, plus at most
/// one watch response) wait for a consumer that has not taken them yet; when that many are
/// waiting and etcd sends more, the watch ends — after delivering everything buffered — by throwing `.watchFellBehind` with
/// ``EtcdError/resumeRevision``, the revision to watch again from (no gap, no repeat). The
/// other watches of the client are not held back.
///
/// To see progress notifications too, iterate ``updates`` instead (one or the other: a watch
/// has a single consumer).
public struct EtcdWatch: AsyncSequence, Sendable {
    /// Each element is one put or delete.
    public typealias Element = EtcdWatchEvent

    let stream: AsyncThrowingStream<EtcdWatchUpdate, any Error>
    /// The watch's buffer accounting (nil for a watch that failed before it started).
    let gauge: WatchBufferGauge?

    init(updates: AsyncThrowingStream<EtcdWatchUpdate, any Error>, gauge: WatchBufferGauge? = nil) {
        self.stream = updates
        self.gauge = gauge
    }

    /// The same watcher as events and progress notifications (``EtcdWatchUpdate``), in the
    /// order etcd sent them. Iterate either this or the watch itself, not both.
    public var updates: EtcdWatchUpdates { EtcdWatchUpdates(updates: stream, gauge: gauge) }

    /// The iterator of an ``EtcdWatch``.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<EtcdWatchUpdate, any Error>.AsyncIterator
        let gauge: WatchBufferGauge?

        /// The next event (progress notifications are skipped); `nil` never comes before an
        /// error unless the watch was cancelled.
        public mutating func next() async throws -> EtcdWatchEvent? {
            while let update = try await base.next() {
                gauge?.consumed()
                if case .event(let event) = update { return event }
            }
            return nil
        }
    }

    /// Starts iterating.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), gauge: gauge)
    }
}
