/// A mutual-exclusion lock on one key of a ``CoordinationStore``, with a fencing token.
///
/// ```swift
/// let lock = CoordinationStore.zooKeeper(zk).lock("/locks/reindex")
/// let held = try await lock.acquire(timeout: .seconds(30))
/// defer { Task { try? await held.release() } }
/// try await held.whileHeld {                      // cancelled the moment the lock is lost
///     try await storage.write(batch, fencingToken: held.token)
/// }
/// ```
///
/// Contenders queue in the store's order (etcd create revision, ZooKeeper sequence, Consul's
/// acquire order) and each waits for its predecessor only, so a release wakes one waiter.
/// The ``HeldLock/token`` strictly increases from one holder to the next: pass it to the
/// resources the lock protects so they can refuse a stale holder's writes.
public struct DistributedLock: Sendable {
    /// The store the lock lives in.
    public let store: CoordinationStore
    /// The lock's key.
    public let key: String
    let value: [UInt8]
    let what: String

    init(store: CoordinationStore, key: String, value: [UInt8] = [], what: String = "the lock") {
        self.store = store
        self.key = key
        self.value = value
        self.what = "\(what) on \(key) (\(store.storeName))"
    }

    /// Waits until this process holds the lock.
    /// - Parameter deadline: give up at this instant (`nil`, the default: wait as long as it takes).
    ///   Cancelling the task gives up too.
    /// - Returns: the held lock.
    /// - Throws: ``CoordinationError`` `.timedOut`, `.cancelled`, `.lockLost` (the session was lost
    ///   while waiting), `.storeFailure`, `.invalidArgument`. Nothing is left in the store then.
    public func acquire(deadline: ContinuousClock.Instant? = nil) async throws -> HeldLock {
        let contender = try await enqueue()
        do {
            let token = try await Self.race(contender, deadline: deadline, what: what)
            return HeldLock(key: key, token: token, contender: contender)
        } catch {
            try? await contender.withdraw()
            throw error
        }
    }

    /// Waits at most `timeout` until this process holds the lock; see ``acquire(deadline:)``.
    /// - Parameter timeout: how long to wait.
    /// - Throws: ``CoordinationError``, `.timedOut` when `timeout` passed.
    public func acquire(timeout: Duration) async throws -> HeldLock {
        try await acquire(deadline: .now + timeout)
    }

    /// Takes the lock only if nobody holds it or waits for it.
    /// - Returns: the held lock, or `nil` when it is taken (nothing is left in the store).
    /// - Throws: ``CoordinationError`` `.storeFailure`, `.invalidArgument`, `.lockLost`.
    public func tryAcquire() async throws -> HeldLock? {
        let contender = try await enqueue()
        do {
            guard let token = try await contender.tryTurn() else {
                try? await contender.withdraw()
                return nil
            }
            if let reason = contender.signal.lossReason { throw CoordinationError.lost(reason, what) }
            return HeldLock(key: key, token: token, contender: contender)
        } catch {
            try? await contender.withdraw()
            throw CoordinationError.store(error, "trying \(what)", backend: store.backend)
        }
    }

    /// Acquires the lock, runs `body` while it is held, and releases it.
    ///
    /// `body` is cancelled the moment the lock is lost; this then throws `.lockLost`.
    /// - Parameters:
    ///   - deadline: give up acquiring at this instant; default `nil` (wait).
    ///   - body: the critical section; it gets the held lock (for its ``HeldLock/token``).
    /// - Returns: what `body` returned.
    /// - Throws: ``CoordinationError`` from acquiring, `.lockLost`, `.storeFailure` when the
    ///   release could not reach the store (the entry then ends with its session), or what `body` threw.
    public func withLock<T: Sendable>(
        deadline: ContinuousClock.Instant? = nil, _ body: @escaping @Sendable (HeldLock) async throws -> T
    ) async throws -> T {
        let held = try await acquire(deadline: deadline)
        let result: T
        do {
            result = try await held.whileHeld { try await body(held) }
        } catch {
            try? await held.release()
            throw error
        }
        try await held.release()
        return result
    }

    func enqueue() async throws -> any Contender {
        guard !key.isEmpty, key != "/" else {
            throw CoordinationError(code: .invalidArgument, message: "a lock key cannot be empty — pass e.g. /locks/my-job")
        }
        do {
            return try await store.backend.contend(key: key, value: value)
        } catch {
            if Task.isCancelled { throw CoordinationError(code: .cancelled, message: "waiting for \(what) was cancelled") }
            throw CoordinationError.store(error, "joining the queue of \(what)", backend: store.backend)
        }
    }

    private enum RaceResult: Sendable {
        case token(UInt64)
        case lost(LockLossReason)
        case timedOut
        case ignored
    }

    /// Waits for the contender's turn, its loss or the deadline, whichever comes first.
    static func race(_ contender: any Contender, deadline: ContinuousClock.Instant?, what: String) async throws -> UInt64 {
        let first: RaceResult
        do {
            first = try await withThrowingTaskGroup(of: RaceResult.self) { group in
                group.addTask { .token(try await contender.waitForTurn()) }
                group.addTask {
                    if case .lost(let reason)? = await contender.signal.wait() { return .lost(reason) }
                    return .ignored
                }
                if let deadline {
                    group.addTask {
                        try await Task.sleep(until: deadline, clock: .continuous)
                        return .timedOut
                    }
                }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if case .ignored = result { continue }
                    return result
                }
                return .ignored
            }
        } catch {
            if let reason = contender.signal.lossReason { throw CoordinationError.lost(reason, what) }
            if Task.isCancelled { throw CoordinationError(code: .cancelled, message: "waiting for \(what) was cancelled") }
            throw CoordinationError.store(error, "waiting for \(what)")
        }
        switch first {
        case .token(let token):
            if let reason = contender.signal.lossReason { throw CoordinationError.lost(reason, what) }
            return token
        case .lost(let reason):
            throw CoordinationError.lost(reason, what)
        case .timedOut:
            throw CoordinationError(code: .timedOut, message: "\(what) was not acquired before the deadline — another holder kept it; retry later or wait longer")
        case .ignored:
            throw CoordinationError(code: .cancelled, message: "waiting for \(what) was cancelled")
        }
    }
}
