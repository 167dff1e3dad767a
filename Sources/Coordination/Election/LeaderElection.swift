/// Leader election at one key: campaign, observe, resign — a ``DistributedLock`` whose holder
/// is the leader and whose entry carries the leader's value.
///
/// ```swift
/// let election = CoordinationStore.etcd(etcd).election("/elections/scheduler", value: Array("node-1".utf8))
/// Task { for try await leader in election.observe() { print("leader:", leader?.string ?? "none") } }
/// let leadership = try await election.campaign()    // waits until this process leads
/// try await leadership.whileHeld { try await schedule(fencingToken: leadership.token) }
/// try await leadership.release()                     // resign
/// ```
///
/// On etcd the entries are those of `etcdctl elect` (`KEY/<lease id hex>`, the value is the
/// proposal); on ZooKeeper the lowest `KEY/_c_…-lock-N` node's data; on Consul `KEY`'s value while
/// a session holds it. The leader's ``Leader/token`` is its leadership's ``HeldLock/token``.
public struct LeaderElection: Sendable {
    /// The store the election runs in.
    public let store: CoordinationStore
    /// The election's key.
    public let key: String
    /// The value this process campaigns with.
    public let value: [UInt8]

    init(store: CoordinationStore, key: String, value: [UInt8]) {
        self.store = store
        self.key = key
        self.value = value
    }

    private var lock: DistributedLock { DistributedLock(store: store, key: key, value: value, what: "the leadership") }

    /// Campaigns and waits until this process leads.
    /// - Parameter deadline: give up at this instant; default `nil` (wait as long as it takes).
    /// - Returns: the leadership; ``HeldLock/release()`` resigns, ``HeldLock/events`` reports its loss.
    /// - Throws: ``CoordinationError`` `.timedOut`, `.cancelled`, `.lockLost`, `.storeFailure`.
    public func campaign(deadline: ContinuousClock.Instant? = nil) async throws -> HeldLock {
        try await lock.acquire(deadline: deadline)
    }

    /// Leads only if nobody leads or campaigns now.
    /// - Returns: the leadership, or `nil` (nothing is left in the store).
    /// - Throws: ``CoordinationError``.
    public func tryCampaign() async throws -> HeldLock? {
        try await lock.tryAcquire()
    }

    /// Campaigns, runs `body` while leading (cancelled the moment leadership is lost), resigns.
    /// - Parameters:
    ///   - deadline: give up campaigning at this instant; default `nil`.
    ///   - body: the leader-only work.
    /// - Returns: what `body` returned.
    /// - Throws: ``CoordinationError`` (`.lockLost` when leadership was lost) or what `body` threw.
    public func withLeadership<T: Sendable>(
        deadline: ContinuousClock.Instant? = nil, _ body: @escaping @Sendable (HeldLock) async throws -> T
    ) async throws -> T {
        try await lock.withLock(deadline: deadline, body)
    }

    /// The current leader (`nil`: nobody leads), then the leader after every change, until the
    /// consuming task ends. Throws when the store's watch fails for good.
    public func observe() -> AsyncThrowingStream<Leader?, any Error> {
        store.backend.leaders(key: key)
    }

    /// The current leader, `nil` when nobody leads.
    /// - Throws: the store's error.
    public func leader() async throws -> Leader? {
        var iterator = observe().makeAsyncIterator()
        return try await iterator.next() ?? nil
    }
}
