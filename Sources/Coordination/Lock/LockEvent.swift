/// An event of a held lock (``HeldLock/events``).
public enum LockEvent: Sendable, Hashable {
    /// The lock is no longer held, for this reason. The last event.
    case lost(LockLossReason)
    /// The holder released the lock. The last event.
    case released
}
