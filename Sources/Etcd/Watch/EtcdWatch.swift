/// The events of one watcher, as an `AsyncSequence`.
///
/// Events arrive in revision order. After a reconnect (or a move to another member) the
/// watch resumes from the last revision seen + 1, so no event is lost or repeated. The
/// sequence ends by throwing ``EtcdError`` — `.compacted` (with ``EtcdError/compactRevision``)
/// when the start revision was compacted, `.watchCanceled` when etcd cancelled the watch,
/// `.closed` when the client was closed. Ending the iteration (leaving the `for` loop, or
/// cancelling its task) and dropping the sequence cancels the watcher on the server.
/// Events are buffered without bound until they are consumed.
public struct EtcdWatch: AsyncSequence, Sendable {
    /// Each element is one put or delete.
    public typealias Element = EtcdWatchEvent

    let events: AsyncThrowingStream<EtcdWatchEvent, any Error>

    /// The iterator of an ``EtcdWatch``.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<EtcdWatchEvent, any Error>.AsyncIterator

        /// The next event; `nil` never comes before an error unless the watch was cancelled.
        public mutating func next() async throws -> EtcdWatchEvent? {
            try await base.next()
        }
    }

    /// Starts iterating.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: events.makeAsyncIterator())
    }
}
