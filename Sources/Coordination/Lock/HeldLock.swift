/// A lock (or leadership) this process holds, from ``DistributedLock/acquire(deadline:)`` or
/// ``LeaderElection/campaign(deadline:)``.
///
/// It stays held until ``release()`` or until the store takes it away; the loss is reported on
/// ``events`` and ends ``whileHeld(_:)``'s body. Dropping it without `release()` releases it in
/// the background.
public final class HeldLock: Sendable {
    /// The lock's key.
    public let key: String
    /// The fencing token: strictly larger than every previous holder's (etcd: the entry's create
    /// revision; ZooKeeper: the node's czxid; Consul: the `ModifyIndex` of the acquiring write).
    public let token: UInt64
    let contender: any Contender

    init(key: String, token: UInt64, contender: any Contender) {
        self.key = key
        self.token = token
        self.contender = contender
    }

    deinit {
        let contender = self.contender
        if contender.signal.release() || contender.signal.lossReason != nil {
            Task { try? await contender.withdraw() }
        }
    }

    /// What happens to the lock: one ``LockEvent/lost(_:)`` or ``LockEvent/released``, then the
    /// end. Each access is a new sequence; one made after the event yields it at once.
    public var events: AsyncStream<LockEvent> { contender.signal.events() }

    /// True until the lock is lost or released (as far as this process has learned).
    public var isHeld: Bool { contender.signal.outcome == nil }

    /// Why the lock was lost; `nil` while held or after a release.
    public var lossReason: LockLossReason? { contender.signal.lossReason }

    /// Waits until the lock is lost or released; returns why it was lost (`nil`: released, or
    /// the waiting task was cancelled).
    public func lost() async -> LockLossReason? {
        if case .lost(let reason)? = await contender.signal.wait() { return reason }
        return nil
    }

    /// Throws `.lockLost` unless the lock is still held.
    /// - Throws: ``CoordinationError`` `.lockLost` or `.notHeld` (released).
    public func checkHeld() throws {
        switch contender.signal.outcome {
        case nil: return
        case .lost(let reason)?: throw CoordinationError.lost(reason, "the lock on \(key)")
        case .released?: throw CoordinationError(code: .notHeld, message: "the lock on \(key) was released — acquire it again")
        }
    }

    /// Releases the lock: its entry is deleted and its session ended, so the next waiter gets it.
    /// Calling it again, or after a loss, only cleans up.
    /// - Throws: ``CoordinationError`` `.storeFailure` when the store could not be told (the entry
    ///   then ends with its session's TTL).
    public func release() async throws {
        contender.signal.release()
        do {
            try await contender.withdraw()
        } catch {
            throw CoordinationError.store(error, "releasing the lock on \(key)")
        }
    }

    /// Runs `body` while the lock is held, and cancels it the moment the lock is lost.
    /// - Parameter body: the work that needs the lock.
    /// - Returns: what `body` returned.
    /// - Throws: ``CoordinationError`` `.lockLost` (after `body` has ended) when the lock was lost
    ///   first, `.notHeld` when it was already released, or what `body` threw.
    public func whileHeld<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try checkHeld()
        let signal = contender.signal
        let key = self.key
        return try await withThrowingTaskGroup(of: WhileHeldOutcome<T>.self) { group in
            group.addTask { .finished(try await body()) }
            group.addTask { .ended(await signal.wait()) }
            let first: WhileHeldOutcome<T>
            do {
                first = try await group.next()!
            } catch {
                group.cancelAll()
                if let reason = signal.lossReason { throw CoordinationError.lost(reason, "the lock on \(key)") }
                throw error
            }
            group.cancelAll()
            switch first {
            case .finished(let value):
                return value
            case .ended(let outcome):
                // The body is cancelled; wait for it to end before reporting.
                while true {
                    do {
                        guard try await group.next() != nil else { break }
                    } catch {}
                }
                switch outcome {
                case .lost(let reason)?: throw CoordinationError.lost(reason, "the lock on \(key)")
                case .released?: throw CoordinationError(code: .notHeld, message: "the lock on \(key) was released while its body ran")
                case nil: throw CancellationError()
                }
            }
        }
    }
}

/// The first of a `whileHeld` body's end and the lock's outcome.
private enum WhileHeldOutcome<T: Sendable>: Sendable {
    case finished(T)
    case ended(LossSignal.Outcome?)
}
