/// The renewals of one kept-alive lease, as an `AsyncSequence`.
///
/// The client renews the lease at a third of its TTL (at least 500 ms apart) over one
/// LeaseKeepAlive stream shared by every kept-alive lease. Each answered renewal is a
/// ``EtcdLeaseKeepAliveEvent/renewed(ttl:)``. The sequence delivers
/// ``EtcdLeaseKeepAliveEvent/expired`` and ends — a dead lease is never renewed again — when
/// etcd reports the lease gone (expired or revoked), or when its deadline passes unrenewed:
/// at most one TTL + one tick (200 ms) after the last answered renewal, or after the keepAlive
/// call when none was answered (for ``EtcdClient/keepAlive(_:)-(EtcdLeaseID)``, after the
/// LeaseTimeToLive answer that told the TTL). The deadline is kept by the client's own clock,
/// so it passes whether or not etcd answers or the stream can be opened.
///
/// An unanswered renewal is not re-sent early: each lease is sent at most one renewal per
/// interval (TTL/3), plus one each time the shared stream is re-opened. Re-opening after the
/// stream fails waits `retry.initialBackoff`, doubled up to `retry.maxBackoff` on each
/// failure, times a random factor in 0.8…1.2; the first answer on a re-opened stream resets it.
///
/// Ending the iteration and dropping the sequence stops the renewals (the lease then expires
/// after its TTL unless revoked). A later keepAlive of the same lease ends this sequence
/// (without an event) and takes over. Closing the client ends it with `.closed`; a failed TTL
/// lookup of ``EtcdClient/keepAlive(_:)-(EtcdLeaseID)`` ends it with that call's error.
public struct EtcdLeaseKeepAlive: AsyncSequence, Sendable {
    /// Each element is one renewal, or the final expiry.
    public typealias Element = EtcdLeaseKeepAliveEvent

    let events: AsyncThrowingStream<EtcdLeaseKeepAliveEvent, any Error>

    /// The iterator of an ``EtcdLeaseKeepAlive``.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<EtcdLeaseKeepAliveEvent, any Error>.AsyncIterator

        /// The next renewal or the expiry; `nil` after the expiry.
        public mutating func next() async throws -> EtcdLeaseKeepAliveEvent? {
            try await base.next()
        }
    }

    /// Starts iterating.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: events.makeAsyncIterator())
    }
}
