import Foundation

/// The clocks a `NodeListStore` reads: a monotonic one for every age it measures (grace
/// periods, dead streaks, verdict freshness) and a wall clock only for the informational
/// ``ClusterNode/joinedAt``. Injected so tests can skew and drive time.
public protocol NodeListClock: Sendable {
    /// Monotonic time since an arbitrary origin of this clock's own; never compared with another
    /// host's.
    var now: Duration { get }
    /// Wall-clock time (only written into `joinedAt`, never compared).
    var wallNow: Date { get }
    /// Waits `duration` of this clock's time.
    func sleep(for duration: Duration) async throws
}

/// The system's clocks: `ContinuousClock` and `Date()`.
public struct SystemNodeListClock: NodeListClock {
    private let origin = ContinuousClock.now

    /// Creates the clock.
    public init() {}

    /// Time since this clock was created, by `ContinuousClock`.
    public var now: Duration { ContinuousClock.now - origin }
    /// `Date()`.
    public var wallNow: Date { Date() }
    /// `Task.sleep(for:)`.
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}
