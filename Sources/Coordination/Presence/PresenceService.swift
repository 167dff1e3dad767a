import Logging
import ServiceLifecycle

/// A swift-service-lifecycle `Service` that keeps this process's presence entry: it joins, joins
/// again after a loss (session expired, entry deleted), and leaves on graceful shutdown.
///
/// ```swift
/// let presence = PresenceService(presence: store.presence("/presence/workers"),
///                                name: "worker-1", value: Array("10.0.0.5:7001".utf8))
/// try await ServiceGroup(services: [presence], logger: logger).run()
/// ```
///
/// While a live entry of the same name is held by another session (`.nameTaken`, e.g. the
/// previous incarnation's, until its session ends) it keeps retrying every ``retryDelay``.
public struct PresenceService: Service {
    /// The group.
    public let presence: Presence
    /// This member's name.
    public let name: String
    /// This member's value.
    public let value: [UInt8]
    /// The pause before joining again after a loss or a failure.
    public let retryDelay: Duration
    private let logger: Logger

    /// Creates the service; nothing happens until `run()`.
    /// - Parameters:
    ///   - presence: the group.
    ///   - name: the member's name (no `/`).
    ///   - value: what the others see. Default empty.
    ///   - retryDelay: the pause before joining again. Default 1 second.
    ///   - logger: where it logs; default the store's configured logger.
    public init(presence: Presence, name: String, value: [UInt8] = [], retryDelay: Duration = .seconds(1),
                logger: Logger? = nil) {
        self.presence = presence
        self.name = name
        self.value = value
        self.retryDelay = retryDelay
        self.logger = logger ?? presence.store.configuration.logger
    }

    /// Keeps the entry until graceful shutdown or cancellation, then leaves.
    /// - Throws: ``CoordinationError`` `.invalidArgument` for a name the store cannot hold.
    public func run() async throws {
        try await cancelWhenGracefulShutdown { try await self.keep() }
    }

    private func keep() async throws {
        while !Task.isCancelled {
            let registration: HeldLock
            do {
                registration = try await presence.join(name: name, value: value)
            } catch let error as CoordinationError where error.code == .invalidArgument {
                throw error
            } catch {
                if Task.isCancelled { return }
                logger.debug("joining the presence group failed; retrying",
                             error: error, metadata: ["coordination.group": "\(presence.group)", "coordination.name": "\(name)"])
                try? await Task.sleep(for: retryDelay)
                continue
            }
            let reason = await registration.lost()
            try? await registration.release()
            guard let reason, !Task.isCancelled else { return }
            logger.warning("presence entry lost; joining again",
                           metadata: ["coordination.group": "\(presence.group)", "coordination.name": "\(name)", "coordination.reason": "\(reason)"])
            try? await Task.sleep(for: retryDelay)
        }
    }
}
