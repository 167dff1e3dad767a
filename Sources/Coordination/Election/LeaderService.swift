import Logging
import ServiceLifecycle

/// A swift-service-lifecycle `Service` that campaigns and runs a leader-only body while it leads.
///
/// ```swift
/// let leader = LeaderService(election: store.election("/elections/scheduler", value: me)) { leadership in
///     try await runScheduler(fencingToken: leadership.token)   // cancelled the moment leadership is lost
/// }
/// try await ServiceGroup(services: [leader], logger: logger).run()
/// ```
///
/// When leadership is lost the body is cancelled, and once it has ended the service campaigns
/// again (after ``retryDelay``). When the body returns, the service resigns and `run()` returns.
/// On graceful shutdown (or cancellation) it stops campaigning, cancels the body and resigns.
public struct LeaderService: Service {
    /// The election.
    public let election: LeaderElection
    /// The pause before campaigning again after a loss or a store failure.
    public let retryDelay: Duration
    private let body: @Sendable (HeldLock) async throws -> Void
    private let logger: Logger

    /// Creates the service; nothing happens until `run()`.
    /// - Parameters:
    ///   - election: the election to campaign in.
    ///   - retryDelay: the pause before campaigning again after a loss. Default 1 second.
    ///   - logger: where it logs leadership changes. Default: the store's configured logger.
    ///   - body: the leader-only work; it gets the leadership (for its fencing token).
    public init(election: LeaderElection, retryDelay: Duration = .seconds(1), logger: Logger? = nil,
                body: @escaping @Sendable (HeldLock) async throws -> Void) {
        self.election = election
        self.retryDelay = retryDelay
        self.logger = logger ?? election.store.configuration.logger
        self.body = body
    }

    /// Campaigns and leads until the body returns, or graceful shutdown.
    /// - Throws: what the body threw (other than a cancellation), after resigning.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await self.lead()
        }
    }

    private func lead() async throws {
        let body = self.body
        while !Task.isCancelled {
            let leadership: HeldLock
            do {
                leadership = try await election.campaign()
            } catch let error as CoordinationError where error.code != .cancelled && error.code != .invalidArgument {
                logger.warning("campaign failed; retrying", error: error, metadata: ["coordination.key": "\(election.key)"])
                try? await Task.sleep(for: retryDelay)
                continue
            } catch {
                if Task.isCancelled { return }
                throw error
            }
            logger.info("leading", metadata: ["coordination.key": "\(election.key)", "coordination.token": "\(leadership.token)"])
            do {
                try await leadership.whileHeld { try await body(leadership) }
                try? await leadership.release()
                return
            } catch let error as CoordinationError where error.code == .lockLost {
                try? await leadership.release()
                logger.warning("leadership lost; campaigning again", metadata: ["coordination.key": "\(election.key)", "coordination.reason": "\(error.reason.map { "\($0)" } ?? "")"])
                try? await Task.sleep(for: retryDelay)
            } catch {
                try? await leadership.release()
                if Task.isCancelled { return }
                throw error
            }
        }
    }
}
