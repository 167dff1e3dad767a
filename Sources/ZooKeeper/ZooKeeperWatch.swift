/// A live watch on one node: an `AsyncSequence` of ``ZooKeeperWatchEvent``s.
///
/// The first event is ``ZooKeeperWatchEvent/Kind-swift.enum/initial``: the node's state once
/// the watch is armed. After that, every change the server reports becomes one event carrying
/// the node's state *after* it (re-read together with re-arming ZooKeeper's one-shot watch).
///
/// **Coalescing.** ZooKeeper watches fire once and must be set again; changes between the
/// notification and the re-read are seen together as one event with the latest state (two
/// quick `set`s may arrive as one `.changed`; a delete and re-create as one `.created`).
/// Intermediate values are never reported — treat each event as "the node is now like this".
///
/// **Reconnects and expiry.** Watches survive disconnections (the C client re-registers them
/// and the server reports changes missed meanwhile); after every reconnect, and after a new
/// session replaced an expired one, the node is re-read and a difference is reported as an
/// event. Iteration ends (returns `nil`) when the client is closed, and throws
/// ``ZooKeeperError`` when the watch cannot be re-armed (e.g. `.noAuth`, or `.sessionExpired`
/// with ``ZooKeeperClient/Configuration/reopenExpiredSession`` off).
///
/// **A slow consumer.** Nothing queues up behind a consumer that falls behind: each watch keeps
/// at most one pending event, the latest state of the node, whose kind is computed against the
/// state the consumer saw last (so a consumer busy while the node changed ten times gets one
/// `.changed` with the tenth value; one busy while it was deleted and re-created gets one
/// `.created`; one busy while it was created and deleted again gets nothing). Memory per watch
/// stays bounded by two copies of the node's data, whatever the rate of change. The one-shot
/// server watch is re-armed meanwhile, so the pending state is kept current.
///
/// Arming starts when iteration starts. Ending the iteration (break, task cancellation,
/// dropping the iterator) removes the watch: it is no longer re-armed. Each iterator is an
/// independent watch.
public struct ZooKeeperWatch: AsyncSequence, Sendable {
    public typealias Element = ZooKeeperWatchEvent

    let connection: ZooKeeperConnection
    /// The watched path.
    public let path: String
    let kind: WatchKind

    init(connection: ZooKeeperConnection, path: String, kind: WatchKind) {
        self.connection = connection
        self.path = path
        self.kind = kind
    }

    /// Arms the watch and returns the iterator of its events.
    public func makeAsyncIterator() -> AsyncIterator {
        do {
            try Validation.path(path)
        } catch {
            return AsyncIterator(subscription: nil, error: error)
        }
        let subscription = connection.addSubscription(kind: kind, path: path).map { WatchSubscription(connection: connection, id: $0) }
        return AsyncIterator(subscription: subscription, error: nil)
    }

    /// The iterator of a ``ZooKeeperWatch``.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var subscription: WatchSubscription?
        var error: (any Error)?

        /// The next change, `nil` once the client is closed.
        /// - Throws: ``ZooKeeperError`` when the watch cannot be re-armed.
        public mutating func next() async throws -> ZooKeeperWatchEvent? {
            if let error {
                self.error = nil
                throw error
            }
            return try await subscription?.next()
        }
    }
}

/// One live watch, for as long as its iterator exists: dropping the iterator ends the watch.
final class WatchSubscription: Sendable {
    let connection: ZooKeeperConnection
    let id: Int

    init(connection: ZooKeeperConnection, id: Int) {
        self.connection = connection
        self.id = id
    }

    func next() async throws -> ZooKeeperWatchEvent? {
        try await connection.nextWatchEvent(id)
    }

    deinit {
        connection.endSubscription(id)
    }
}
