/// A distributed lock on one key, as Consul's "leader election" guide and Go's `api.Lock` do it:
/// a session (TTL, behavior `release`), `PUT ?acquire=`, and blocking queries to wait while
/// another session holds the key.
///
/// Superseded by the Coordination module's `CoordinationStore.consul(client).lock(key)`, which
/// also watches the key while held (a key deleted or rewritten under a valid session counts as
/// lost), reports the loss as events and as a cancellation scope, and has the same API on etcd
/// and ZooKeeper. This type stays for existing users; its held lock carries the fencing
/// ``ConsulHeldLock/token`` and its lock-delay defaults to Consul's 15 s.
///
/// ```swift
/// let lock = ConsulLock(client: consul, key: "service/app/leader", value: Array("node-1".utf8))
/// let held = try await lock.acquire()          // waits until this process holds the lock
/// // … lead; `held.events` reports `.invalidated` if the session (and so the lock) is lost.
/// try await held.release()
/// ```
public struct ConsulLock: Sendable {
    let client: ConsulClient
    /// The key that holds the lock (a leading `/` is ignored).
    public let key: String
    /// The value written when the lock is acquired (e.g. who holds it).
    public let value: [UInt8]
    /// The TTL of the lock's session; it is renewed at half this while the lock is held.
    public let sessionTTL: Duration
    /// The lock delay of the lock's session: after the session is invalidated nobody can take
    /// the lock for this long, which protects against a holder that does not yet know it lost.
    /// Default 15 s, as Consul's own; `.zero` lets a successor take over at once.
    public let lockDelay: Duration
    /// The `wait` of each blocking query while waiting for the holder to release.
    public let wait: Duration

    /// Creates a lock; nothing is sent until `acquire()`.
    /// - Parameters:
    ///   - client: the client.
    ///   - key: the key; a leading `/` is ignored.
    ///   - value: written to the key when acquired. Default empty.
    ///   - sessionTTL: default 15 s (Consul accepts 10 s to 24 h).
    ///   - lockDelay: default 15 s (Consul's default).
    ///   - wait: default 30 s.
    public init(
        client: ConsulClient, key: String, value: [UInt8] = [], sessionTTL: Duration = .seconds(15),
        lockDelay: Duration = .seconds(15), wait: Duration = .seconds(30)
    ) {
        self.client = client
        self.key = key
        self.value = value
        self.sessionTTL = sessionTTL
        self.lockDelay = lockDelay
        self.wait = wait
    }

    /// Waits until this process holds the lock.
    ///
    /// Creates a session, then tries `PUT ?acquire=`; while another session holds the key it
    /// blocks on the key until that changes. Cancelling the task stops waiting (and destroys
    /// the session).
    /// - Returns: the held lock; its session is renewed until `release()`.
    /// - Throws: `ConsulError` (`.cancelled` when the task was cancelled while waiting).
    public func acquire() async throws -> ConsulHeldLock {
        let normalized = try ConsulKV.normalize(key)
        let sessionID = try await client.sessions.create(
            name: "lock \(normalized)", ttl: sessionTTL, behavior: .release, lockDelay: lockDelay, nodeChecks: [])
        do {
            let keeper = ConsulSessionKeeper(client: client, sessionID: sessionID, ttl: sessionTTL)
            let renewing = Task { try await keeper.run() }
            let acquired: ConsulKeyValue
            do {
                acquired = try await waitAndAcquire(normalized, sessionID: sessionID)
            } catch {
                renewing.cancel()
                _ = await renewing.result
                throw error
            }
            return ConsulHeldLock(
                client: client, key: normalized, value: value, sessionID: sessionID, keeper: keeper,
                renewing: renewing, token: acquired.modifyIndex, lockIndex: acquired.lockIndex)
        } catch {
            let client = self.client
            await Task { try? await client.sessions.destroy(sessionID) }.value
            if Task.isCancelled, (error as? ConsulError)?.code != .cancelled {
                throw ConsulError(.cancelled, message: "waiting for the lock on \(normalized) was cancelled")
            }
            throw error
        }
    }

    /// Returns the key as read right after the acquiring write (its index is the fencing token).
    private func waitAndAcquire(_ key: String, sessionID: String) async throws -> ConsulKeyValue {
        while true {
            try Task.checkCancellation()
            if try await client.kv.acquire(key, session: sessionID, value: value),
               let entry = try await client.kv.get(key, consistency: .consistent), entry.session == sessionID {
                return entry
            }
            let current = try await client.kv.getWithMeta(key, consistency: .consistent)
            guard current.value?.session != nil else {
                // Free, yet not ours: a previous holder's lock delay applies, or another contender
                // was faster. Retry shortly, with jitter.
                try await Task.sleep(for: .milliseconds(Int.random(in: 250...500)))
                continue
            }
            // Held by another session: block until the key changes (released, deleted, rewritten).
            _ = try await client.kv.get(key, waitIndex: max(current.index, 1), wait: wait, consistency: .consistent)
        }
    }
}

/// A lock this process holds (from `ConsulLock.acquire()`).
public final class ConsulHeldLock: Sendable {
    /// The key holding the lock.
    public let key: String
    /// The session the lock is held with.
    public let sessionID: String
    /// The fencing token: the `ModifyIndex` of the write that acquired the lock. It strictly
    /// increases from one holder to the next (unlike `LockIndex`, it does not restart when the
    /// key is deleted and re-created); pass it to what the lock protects.
    public let token: UInt64
    /// The key's `LockIndex` when acquired (Consul's lock sequencer, with ``sessionID``).
    public let lockIndex: UInt64
    private let value: [UInt8]
    private let client: ConsulClient
    private let keeper: ConsulSessionKeeper
    /// The keeper's `run()`, owned by this lock: started by `acquire()`, ended by `release()`
    /// (or by `deinit`, which cancels it).
    private let renewing: Task<Void, any Error>

    init(
        client: ConsulClient, key: String, value: [UInt8], sessionID: String, keeper: ConsulSessionKeeper,
        renewing: Task<Void, any Error>, token: UInt64, lockIndex: UInt64
    ) {
        self.token = token
        self.lockIndex = lockIndex
        self.client = client
        self.key = key
        self.value = value
        self.sessionID = sessionID
        self.keeper = keeper
        self.renewing = renewing
    }

    /// A lock dropped without `release()` stops renewing; its session is destroyed, which
    /// releases the lock.
    deinit { renewing.cancel() }

    /// The session's events (`.renewed`, `.renewFailed`, `.invalidated`, `.destroyed`); the lock
    /// is lost when `.invalidated` arrives. Finished when the lock is released or lost.
    public var events: AsyncStream<ConsulSessionKeeper.Event> { keeper.events }

    /// Whether the lock is still held: the key's `session` is this lock's session
    /// (a consistent read).
    /// - Throws: `ConsulError`.
    public func isHeld() async throws -> Bool {
        try await client.kv.get(key, consistency: .consistent)?.session == sessionID
    }

    /// Releases the lock (`PUT ?release=`, keeping the key's value) and destroys its session.
    /// - Throws: `ConsulError` when Consul could not be told; the session is destroyed anyway
    ///   (or, if Consul is unreachable, ends by its TTL).
    public func release() async throws {
        var failure: (any Error)?
        do {
            _ = try await client.kv.release(key, session: sessionID, value: value)
        } catch {
            failure = error
        }
        renewing.cancel()
        _ = await renewing.result  // the keeper destroys the session when cancelled
        if let failure { throw failure }
    }
}
