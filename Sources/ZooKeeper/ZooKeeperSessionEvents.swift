/// The session state changes of a ``ZooKeeperClient``: an `AsyncSequence` of
/// ``ZooKeeperSessionState``.
///
/// Each iteration first yields the current state, then every change: `connecting` when the
/// connection is lost, `connected` when it is back (possibly to another server), `expired`
/// when the server expired the session — then, by default, `connecting` and `connected` for the
/// new session that replaces it (ephemeral nodes of the expired one are gone: re-create them
/// after that `connected`) — and finally `closed`, after which the sequence ends. If the
/// consumer falls behind, the oldest of more than 64 buffered states are dropped.
public struct ZooKeeperSessionEvents: AsyncSequence, Sendable {
    public typealias Element = ZooKeeperSessionState

    let connection: ZooKeeperConnection

    /// Starts listening and returns the iterator.
    public func makeAsyncIterator() -> AsyncIterator {
        let (stream, continuation) = AsyncStream<ZooKeeperSessionState>.makeStream(bufferingPolicy: .bufferingNewest(64))
        connection.addSessionListener(continuation)
        return AsyncIterator(base: stream.makeAsyncIterator())
    }

    /// The iterator of ``ZooKeeperSessionEvents``.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<ZooKeeperSessionState>.AsyncIterator

        /// The next state, `nil` after `closed`.
        public mutating func next() async -> ZooKeeperSessionState? {
            await base.next()
        }
    }
}
