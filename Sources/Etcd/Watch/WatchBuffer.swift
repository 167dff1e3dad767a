import NIOConcurrencyHelpers

/// How many updates one watch holds for its consumer, and whether the next batch may be added:
/// the pure state behind ``EtcdClient/Configuration/watchBufferLimit`` (no I/O, unit-tested).
///
/// The hub offers each watch response's updates before yielding them (``offer(count:revision:)``,
/// one response = one batch, so neither a response nor a revision is ever split); the consumer's
/// iterator reports each update it takes (``consumed()``). A batch is accepted while fewer than
/// `limit` updates are buffered; once `limit` or more are waiting, the next batch is refused for
/// good (`.fellBehind`): the watch ends after the updates already buffered, and a new watch
/// resumes at the refused batch's first revision. So at most `limit - 1` plus one batch are ever
/// buffered (``maxBuffered`` < `limit` + ``maxBatch``); etcd sends a watcher that is up to date one
/// response per revision, and one catching up on history at most 1,000 revisions per response.
struct WatchBuffer: Sendable, Equatable {
    enum Decision: Equatable {
        /// Yield the batch.
        case deliver
        /// The consumer fell behind: end the watch; every revision before `resumeRevision` was delivered.
        case fellBehind(resumeRevision: Int64)
        /// The watch already fell behind: drop the batch.
        case ignore
    }

    let limit: Int
    /// Updates yielded and not yet taken by the consumer.
    private(set) var buffered = 0
    /// The most updates ever buffered at once.
    private(set) var maxBuffered = 0
    /// The largest batch accepted.
    private(set) var maxBatch = 0
    /// Set once a batch was refused: the revision a new watch should start from.
    private(set) var resumeRevision: Int64?

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// A batch of `count` updates, the first of `revision`, is about to be yielded.
    mutating func offer(count: Int, revision: Int64) -> Decision {
        guard resumeRevision == nil else { return .ignore }
        guard count > 0 else { return .deliver }
        if buffered >= limit {
            resumeRevision = revision
            return .fellBehind(resumeRevision: revision)
        }
        buffered += count
        maxBatch = max(maxBatch, count)
        maxBuffered = max(maxBuffered, buffered)
        return .deliver
    }

    /// The consumer took one update.
    mutating func consumed() {
        if buffered > 0 { buffered -= 1 }
    }
}

/// A ``WatchBuffer`` shared by the hub (which offers) and the watch's iterator (which consumes).
final class WatchBufferGauge: Sendable {
    let state: NIOLockedValueBox<WatchBuffer>

    init(limit: Int) {
        state = NIOLockedValueBox(WatchBuffer(limit: limit))
    }

    func offer(count: Int, revision: Int64) -> WatchBuffer.Decision {
        state.withLockedValue { $0.offer(count: count, revision: revision) }
    }

    func consumed() {
        state.withLockedValue { $0.consumed() }
    }

    /// A snapshot, for tests and diagnostics.
    var snapshot: WatchBuffer { state.withLockedValue { $0 } }
}
