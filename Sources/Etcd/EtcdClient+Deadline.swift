extension EtcdClient {
    /// The deadline set by the innermost ``withDeadline(_:operation:)`` of the current task.
    @TaskLocal static var callDeadline: ContinuousClock.Instant?

    /// Runs `operation` with a deadline for every etcd unary call it makes (on any client):
    /// each call, with all its retries and failover, ends by `deadline` — with `.deadlineExceeded`
    /// if it has not completed — in addition to ``Configuration/Timeouts/overall``.
    ///
    /// ```swift
    /// let kv = try await EtcdClient.withDeadline(.now + .seconds(2)) { try await etcd.get("k") }
    /// ```
    /// Watches and lease keep-alives are not affected.
    /// - Parameters:
    ///   - deadline: when the calls must have completed (nested deadlines: the earliest counts).
    ///   - operation: the work whose calls the deadline bounds.
    /// - Returns: what `operation` returns.
    /// - Throws: what `operation` throws.
    public static func withDeadline<R>(_ deadline: ContinuousClock.Instant,
                                       operation: () async throws -> R) async rethrows -> R {
        let effective = callDeadline.map { min($0, deadline) } ?? deadline
        return try await $callDeadline.withValue(effective, operation: operation)
    }
}
