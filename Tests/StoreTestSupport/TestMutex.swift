import NIOConcurrencyHelpers

/// A value behind a lock, for test tasks to share: the package's one lock type,
/// `NIOLockedValueBox`, in a class so closures can capture it and under the name the tests use.
///
/// Not `Synchronization.Mutex`: on Linux that one is built on raw futex calls, which
/// ThreadSanitizer does not see, so every access under it is reported as a race (the
/// whole-suite `scripts/test.sh --sanitize thread` run reported the ReliabilityTests' helpers
/// this way). `NIOLockedValueBox` is a pthread mutex, which TSan intercepts.
public final class TestMutex<Value>: @unchecked Sendable {
    // @unchecked: `box` is only reached through `withLock`, which holds its lock.
    private let box: NIOLockedValueBox<Value>

    /// Creates the lock around `value`.
    public init(_ value: Value) {
        box = NIOLockedValueBox(value)
    }

    /// Runs `body` with exclusive access to the value (`body` must not take this lock again).
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        try box.withLockedValue(body)
    }
}
