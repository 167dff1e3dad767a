/// Tells whether a listed node is alive.
///
/// A probe answers for one attempt; `NodeListStore` runs probes in parallel (bounded by
/// `probeConcurrency`) and declares a node dead only after `probeAttempts` failed attempts.
/// Conform your own type, or use ``ClosureProbe``.
public protocol NodeProbe: Sendable {
    /// One attempt: true when `node` answered within `timeout`.
    /// - Parameters:
    ///   - node: The node to probe (never the caller itself).
    ///   - timeout: How long the attempt may take; a slower answer counts as a failure.
    func probe(_ node: ClusterNode, timeout: Duration) async -> Bool
}

/// A probe from a closure; a thrown error counts as a failed attempt.
public struct ClosureProbe: NodeProbe {
    private let body: @Sendable (ClusterNode, Duration) async throws -> Bool

    /// Creates a probe that calls `body` for each attempt.
    public init(_ body: @escaping @Sendable (ClusterNode, Duration) async throws -> Bool) {
        self.body = body
    }

    /// One probe attempt (see ``NodeProbe/probe(_:timeout:)``).
    public func probe(_ node: ClusterNode, timeout: Duration) async -> Bool {
        do {
            return try await withDeadline(timeout) { try await body(node, timeout) } ?? false
        } catch {
            return false
        }
    }
}

/// Treats every node as alive: nothing is ever swept (`--probe none`).
public struct NoProbe: NodeProbe {
    /// Creates the probe.
    public init() {}
    /// One probe attempt (see ``NodeProbe/probe(_:timeout:)``).
    public func probe(_ node: ClusterNode, timeout: Duration) async -> Bool { true }
}

/// Runs `body`, or returns nil when it has not finished after `timeout` (cancelling it).
func withDeadline<T: Sendable>(
    _ timeout: Duration, _ body: @escaping @Sendable () async throws -> T
) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
