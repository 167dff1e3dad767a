/// The values of one key over time, driven by Consul blocking queries
/// (`GET /v1/kv/:key?index=&wait=`), as an `AsyncSequence`.
///
/// The first element is the key's current value (`nil` when it does not exist); after that
/// an element is produced only when the entry changed (value, flags, session or
/// `modifyIndex`), and `nil` means the key was deleted. Intermediate versions that
/// changed faster than a round trip may be skipped, as with any Consul watch.
///
/// It follows the rules of Consul's "Blocking Queries" documentation: a return is no proof
/// of a change (entries are compared), an index that goes backwards resets the watch
/// (to 0, then 1), an index of 0 is never blocked on (it is treated as 1), and answers without a
/// change are rate-limited so a misbehaving server cannot cause a busy loop. Transient
/// failures (unreachable agent, timeouts, no leader, 5xx) are retried with jittered
/// exponential backoff; other errors (`.permissionDenied`, `.invalidArgument`,
/// `.shutdown`, …) end the sequence by being thrown. Cancelling the consuming task ends
/// the sequence (`nil`).
public struct ConsulKVWatch: AsyncSequence, Sendable {
    /// `nil` when the key does not exist (or was deleted).
    public typealias Element = ConsulKeyValue?

    let kv: ConsulKV
    let key: String
    let wait: Duration
    let consistency: ConsulConsistency?

    /// Creates the iterator; each iterator runs its own blocking queries.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(loop: BlockingLoop(wait: wait) { [kv, key, consistency] index, wait in
            try await kv.read(key, waitIndex: index, wait: wait, consistency: consistency)
        })
    }

    /// The iterator of a `ConsulKVWatch`.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var loop: BlockingLoop<ConsulKeyValue?>

        /// The next value of the key: the current one first, then each change.
        /// - Returns: `.some(nil)` when the key does not exist, `nil` when the task was cancelled.
        /// - Throws: `ConsulError` for failures that retrying cannot fix.
        public mutating func next() async throws -> ConsulKeyValue?? {
            try await loop.next()
        }
    }
}

/// The entries under a prefix over time (`GET /v1/kv/:prefix?recurse&index=&wait=`), as an
/// `AsyncSequence`. Same rules as `ConsulKVWatch`: the first element is the current list
/// (sorted by key, empty when there are none), then one element per change.
public struct ConsulKVPrefixWatch: AsyncSequence, Sendable {
    /// The entries under the prefix, sorted by key.
    public typealias Element = [ConsulKeyValue]

    let kv: ConsulKV
    let prefix: String
    let wait: Duration
    let consistency: ConsulConsistency?

    /// Creates the iterator; each iterator runs its own blocking queries.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(loop: BlockingLoop(wait: wait) { [kv, prefix, consistency] index, wait in
            try await kv.list(prefix, waitIndex: index, wait: wait, consistency: consistency)
        })
    }

    /// The iterator of a `ConsulKVPrefixWatch`.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var loop: BlockingLoop<[ConsulKeyValue]>

        /// The next list of entries: the current one first, then each change.
        /// - Returns: `nil` when the task was cancelled.
        /// - Throws: `ConsulError` for failures that retrying cannot fix.
        public mutating func next() async throws -> [ConsulKeyValue]? {
            try await loop.next()
        }
    }
}

extension ConsulKV {
    /// Watches one key: its current value, then every change, until the task is cancelled.
    /// - Parameters:
    ///   - key: the key; a leading `/` is ignored.
    ///   - wait: the `wait` of each blocking query. Default 60 seconds (a shorter wait than
    ///     Consul's default 5 minutes finds a silently dead connection sooner).
    ///   - consistency: the reads' consistency mode; default the configuration's.
    /// - Returns: an `AsyncSequence` of `ConsulKeyValue?` (`nil` = the key does not exist).
    public func watch(_ key: String, wait: Duration = .seconds(60), consistency: ConsulConsistency? = nil)
        -> ConsulKVWatch
    {
        ConsulKVWatch(kv: self, key: key, wait: wait, consistency: consistency)
    }

    /// Watches every key under a prefix: the current entries, then the entries after each change.
    /// - Parameters:
    ///   - prefix: the prefix; a leading `/` is ignored.
    ///   - wait: the `wait` of each blocking query. Default 60 seconds.
    ///   - consistency: the reads' consistency mode; default the configuration's.
    /// - Returns: an `AsyncSequence` of `[ConsulKeyValue]`.
    public func watch(prefix: String, wait: Duration = .seconds(60), consistency: ConsulConsistency? = nil)
        -> ConsulKVPrefixWatch
    {
        ConsulKVPrefixWatch(kv: self, prefix: prefix, wait: wait, consistency: consistency)
    }
}

/// The blocking-query loop shared by the watches ("Blocking Queries", implementation details).
struct BlockingLoop<Value: Sendable & Equatable>: Sendable {
    typealias Query = @Sendable (_ index: UInt64?, _ wait: Duration) async throws -> ConsulQueryResult<Value>

    let wait: Duration
    let query: Query
    /// The index to block on; `nil` before the first answer (a non-blocking read).
    private var index: UInt64?
    /// The last value delivered (`nil` before the first).
    private var delivered: Value?
    private var failures = 0

    /// Answers without a change closer together than this are slowed down (Consul: "rate limit").
    static var minimumQuietInterval: Duration { .milliseconds(200) }

    init(wait: Duration, query: @escaping Query) {
        self.wait = wait
        self.query = query
    }

    mutating func next() async throws -> Value? {
        while true {
            if Task.isCancelled { return nil }
            let started = ContinuousClock.now
            let result: ConsulQueryResult<Value>
            do {
                result = try await query(index, wait)
                failures = 0
            } catch {
                if Task.isCancelled || error is CancellationError { return nil }
                guard let consulError = error as? ConsulError else { throw error }
                if consulError.code == .cancelled { return nil }
                guard Self.isTransient(consulError.code) else { throw consulError }
                failures += 1
                // Jittered exponential backoff: 100 ms doubling up to 10 s, full jitter.
                let cap = min(10_000, 100 << min(failures - 1, 7))
                guard (try? await Task.sleep(for: .milliseconds(Int.random(in: cap / 2...cap)))) != nil else {
                    return nil
                }
                continue
            }
            // "Reset the index if it goes backwards" (e.g. a snapshot restore) to 0, then
            // "sanity check index is greater than zero": an index of 0 makes every query return at
            // once, and 1 is always safe to block on. After a reset the next query (on 1) answers at
            // once with the current data, which restarts the loop.
            var next = result.index
            if let previous = index, next < previous { next = 0 }
            index = max(next, 1)
            if let delivered, delivered == result.value {
                // No change (timeout or an unrelated write): rate-limit, then block again.
                let elapsed = ContinuousClock.now - started
                if elapsed < Self.minimumQuietInterval {
                    let pause = Self.minimumQuietInterval - elapsed
                    guard (try? await Task.sleep(for: pause)) != nil else { return nil }
                }
                continue
            }
            delivered = result.value
            return result.value
        }
    }

    static func isTransient(_ code: ConsulError.Code) -> Bool {
        [.unreachable, .timeout, .noLeader, .serverError, .badResponse].contains(code)
    }
}
