import Logging
import ServiceLifecycle

/// Keeps a TTL session alive: renews it at half its TTL, reports when Consul invalidated it,
/// and (by default) destroys it on graceful shutdown so its locks are released at once.
///
/// A swift-service-lifecycle `Service`: run it in a `ServiceGroup`, or call `run()` in a task.
///
/// ```swift
/// let id = try await consul.sessions.create(name: "leader", ttl: .seconds(15), behavior: .delete)
/// let keeper = ConsulSessionKeeper(client: consul, sessionID: id, ttl: .seconds(15))
/// Task { for await event in keeper.events { if case .invalidated = event { /* stop leading */ } } }
/// try await ServiceGroup(services: [keeper], logger: logger).run()
/// ```
///
/// `run()` returns when the task is cancelled or the group shuts down gracefully, and throws
/// `ConsulError` with code `.sessionInvalidated` when the session is gone (destroyed elsewhere,
/// or not renewed in time): whatever was held under it is lost and must be re-acquired with a
/// new session. Transient failures (agent unreachable, timeouts, no leader) are retried with
/// backoff within the TTL and reported as `.renewFailed`.
public final class ConsulSessionKeeper: Service, Sendable {
    /// What happened to the session.
    public enum Event: Sendable {
        /// Consul renewed the session; the value is the session as Consul reported it.
        case renewed(ConsulSession)
        /// A renewal failed in a way that is retried (the session may still be valid).
        case renewFailed(ConsulError)
        /// The session no longer exists; `run()` throws this error.
        case invalidated(ConsulError)
        /// The keeper destroyed the session on shutdown.
        case destroyed
    }

    /// The session kept alive.
    public let sessionID: String
    private let client: ConsulClient
    private let ttl: Duration
    private let destroyOnShutdown: Bool
    private let continuation: AsyncStream<Event>.Continuation
    /// The session's events, finished when `run()` ends. Buffers the newest 64 events.
    public let events: AsyncStream<Event>

    /// Creates a keeper; nothing happens until `run()`.
    /// - Parameters:
    ///   - client: the client to renew through.
    ///   - sessionID: the session, created with a TTL.
    ///   - ttl: the session's TTL (renewals happen every `ttl / 2`; a longer TTL reported by Consul
    ///     on renewal is used from then on).
    ///   - destroyOnShutdown: destroy the session when `run()` ends by cancellation or graceful
    ///     shutdown. Default `true`.
    public init(client: ConsulClient, sessionID: String, ttl: Duration, destroyOnShutdown: Bool = true) {
        self.client = client
        self.sessionID = sessionID
        self.ttl = ttl
        self.destroyOnShutdown = destroyOnShutdown
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(64))
    }

    deinit { continuation.finish() }

    /// Renews the session until cancelled or shut down gracefully.
    /// - Throws: `ConsulError` `.sessionInvalidated` when the session is gone; other `ConsulError`s
    ///   that retrying cannot fix (`.permissionDenied`, `.shutdown`, …).
    public func run() async throws {
        defer { continuation.finish() }
        do {
            try await cancelWhenGracefulShutdown { try await self.renewLoop() }
        } catch let error as ConsulError where error.code != .cancelled {
            if error.code == .sessionInvalidated { continuation.yield(.invalidated(error)) }
            throw error
        } catch {
            // Cancelled or shutting down gracefully: fall through to the clean-up.
        }
        guard destroyOnShutdown else { return }
        // The calling task is cancelled; destroy in a task of its own so the request is not cancelled
        // too (it still has the client's request deadline).
        let client = self.client
        let id = sessionID
        let outcome = await Task { () -> Result<Void, any Error> in
            do {
                try await client.sessions.destroy(id)
                return .success(())
            } catch {
                return .failure(error)
            }
        }.value
        switch outcome {
        case .success:
            continuation.yield(.destroyed)
            client.logger.debug("consul session destroyed on shutdown", metadata: ["consul.session": "\(id)"])
        case .failure(let error):
            // The session then ends by its TTL.
            client.logger.warning(
                "could not destroy the consul session on shutdown",
                error: error, metadata: ["consul.session": "\(id)"])
        }
    }

    private func renewLoop() async throws {
        var interval = ttl / 2
        var failures = 0
        while true {
            try await Task.sleep(for: failures == 0 ? interval : min(interval, retryDelay(failures)))
            do {
                let session = try await client.sessions.renew(sessionID)
                failures = 0
                if let granted = session.ttl, granted > .zero { interval = granted / 2 }
                continuation.yield(.renewed(session))
            } catch let error as ConsulError {
                guard BlockingLoop<Int>.isTransient(error.code) else { throw error }
                failures += 1
                continuation.yield(.renewFailed(error))
                client.logger.debug(
                    "consul session renewal failed; retrying",
                    error: error, metadata: ["consul.session": "\(sessionID)"])
            }
        }
    }

    /// 250 ms doubling, capped at 5 s, with jitter; always within the half-TTL interval.
    private func retryDelay(_ failures: Int) -> Duration {
        let cap = min(5_000, 250 << min(failures - 1, 5))
        return .milliseconds(Int.random(in: cap / 2...cap))
    }
}
