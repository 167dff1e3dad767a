/// The renewals of one kept-alive lease, as an `AsyncSequence`.
///
/// The client renews the lease at a third of its TTL over one LeaseKeepAlive stream shared by
/// every kept-alive lease. Each renewal is a ``EtcdLeaseKeepAliveEvent/renewed(ttl:)``; when
/// etcd reports the lease gone (expired or revoked), or no renewal succeeded within its TTL,
/// the sequence delivers ``EtcdLeaseKeepAliveEvent/expired`` and ends — a dead lease is never
/// renewed. Ending the iteration and dropping the sequence stops the renewals (the lease then
/// expires after its TTL unless revoked). Closing the client ends it with `.closed`.
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
