import NIOConcurrencyHelpers

/// The one-shot "lost or released" state of a contender, shared by its monitoring tasks (which
/// fire it) and by its holder (which listens). The first `fire` or `release` wins; later calls
/// do nothing.
package final class LossSignal: Sendable {
    package enum Outcome: Sendable, Hashable {
        case lost(LockLossReason)
        case released
    }

    private struct State {
        var outcome: Outcome?
        var streams: [Int: AsyncStream<LockEvent>.Continuation] = [:]
        var waiters: [Int: CheckedContinuation<Outcome?, Never>] = [:]
        var nextID = 0
        var onLoss: (@Sendable () -> Void)?
    }

    private let state = NIOLockedValueBox(State())

    package init() {}

    /// The outcome so far (`nil` while held or waiting).
    package var outcome: Outcome? { state.withLockedValue { $0.outcome } }

    /// Why the lock was lost, if it was.
    package var lossReason: LockLossReason? {
        if case .lost(let reason) = outcome { return reason }
        return nil
    }

    /// Sets what runs once when a loss is recorded (the contender's own clean-up: an entry the
    /// holder has given up must not keep blocking the queue until its session ends).
    package func setOnLoss(_ handler: @escaping @Sendable () -> Void) {
        state.withLockedValue { $0.onLoss = handler }
    }

    /// Records a loss; returns false when the outcome was already decided.
    @discardableResult
    package func fire(_ reason: LockLossReason) -> Bool { settle(.lost(reason)) }

    /// Records a release; returns false when the outcome was already decided.
    @discardableResult
    package func release() -> Bool { settle(.released) }

    private func settle(_ outcome: Outcome) -> Bool {
        typealias Listeners = (won: Bool, streams: [AsyncStream<LockEvent>.Continuation],
                               waiters: [CheckedContinuation<Outcome?, Never>], onLoss: (@Sendable () -> Void)?)
        let listeners = state.withLockedValue { state -> Listeners in
            guard state.outcome == nil else { return (false, [], [], nil) }
            state.outcome = outcome
            defer {
                state.streams = [:]
                state.waiters = [:]
                state.onLoss = nil
            }
            if case .lost = outcome {
                return (true, Array(state.streams.values), Array(state.waiters.values), state.onLoss)
            }
            return (true, Array(state.streams.values), Array(state.waiters.values), nil)
        }
        guard listeners.won else { return false }
        listeners.onLoss?()
        let event: LockEvent
        switch outcome {
        case .lost(let reason): event = .lost(reason)
        case .released: event = .released
        }
        for stream in listeners.streams {
            stream.yield(event)
            stream.finish()
        }
        for waiter in listeners.waiters { waiter.resume(returning: outcome) }
        return true
    }

    /// A new stream of the events: the outcome once it is decided, then the end.
    package func events() -> AsyncStream<LockEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: LockEvent.self, bufferingPolicy: .unbounded)
        let decided = state.withLockedValue { state -> Outcome? in
            if let outcome = state.outcome { return outcome }
            let id = state.nextID
            state.nextID += 1
            state.streams[id] = continuation
            continuation.onTermination = { [weak self] _ in
                self?.state.withLockedValue { _ = $0.streams.removeValue(forKey: id) }
            }
            return nil
        }
        if let decided {
            switch decided {
            case .lost(let reason): continuation.yield(.lost(reason))
            case .released: continuation.yield(.released)
            }
            continuation.finish()
        }
        return stream
    }

    /// Waits until the outcome is decided; `nil` when the waiting task is cancelled first.
    package func wait() async -> Outcome? {
        let id = state.withLockedValue { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome?, Never>) in
                let decided = state.withLockedValue { state -> Outcome?? in
                    if let outcome = state.outcome { return .some(outcome) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    return .none
                }
                if let decided { continuation.resume(returning: decided) }
            }
        } onCancel: {
            let waiter = state.withLockedValue { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }
}
