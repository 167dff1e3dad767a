import Logging
import ServiceLifecycle
import NIOConcurrencyHelpers

/// Keeps one node in the list for as long as it runs — a swift-service-lifecycle `Service`.
///
/// On start it joins (retrying while the store is unreachable); then it re-reads the list every
/// `refreshInterval` and on every change the store reports, re-adds the node if it was swept
/// (for instance while it was merely slow), and reports ready once `quorum` listed nodes
/// (itself included) respond. On graceful shutdown it leaves the list.
///
/// ```swift
/// let service = NodeListService(store: store, node: me, refreshInterval: .seconds(5),
///                               connect: { seed in try await mySystem.join(seed) })
/// let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm], logger: logger))
/// try await group.run()
/// ```
public final class NodeListService: Service, Sendable {
    /// The list this service keeps `node` in.
    public let store: NodeListStore
    /// This node.
    public let node: ClusterNode
    /// How often the list is re-read even when the store reports no change.
    public let refreshInterval: Duration
    /// How many listed nodes (this one included) must respond before ``isReady`` turns true.
    public let quorum: Int
    private let connect: @Sendable (ClusterNode) async throws -> Void
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        var ready = false
        var lastOutcome: JoinOutcome?
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Creates the service.
    /// - Parameters:
    ///   - store: The node list.
    ///   - node: This node.
    ///   - refreshInterval: How often to re-read the list. Default: 5 s.
    ///   - quorum: Responsive listed nodes (this one included) needed for readiness. Default: 1.
    ///   - logger: Defaults to the store's logger.
    ///   - connect: Called with the seed on each join (see ``NodeListStore/join(_:connect:)``).
    public init(
        store: NodeListStore,
        node: ClusterNode,
        refreshInterval: Duration = .seconds(5),
        quorum: Int = 1,
        logger: Logger? = nil,
        connect: @escaping @Sendable (ClusterNode) async throws -> Void = { _ in }
    ) {
        self.store = store
        self.node = node
        self.refreshInterval = refreshInterval
        self.quorum = max(quorum, 1)
        self.connect = connect
        self.logger = logger ?? store.logger
    }

    /// True once the node is listed and `quorum` listed nodes respond.
    public var isReady: Bool { state.withLockedValue { $0.ready } }

    /// The outcome of the last join (the first one, or a re-join after being swept).
    public var lastJoin: JoinOutcome? { state.withLockedValue { $0.lastOutcome } }

    /// Returns once the service is ready (see ``isReady``).
    public func waitUntilReady() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLockedValue { state -> Bool in
                if state.ready { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Joins, refreshes until graceful shutdown, then leaves.
    public func run() async throws {
        // A shutdown while the store is still unreachable ends the retries: nothing to leave.
        do {
            try await cancelWhenGracefulShutdown { try await self.joinRetrying() }
        } catch is CancellationError where Task.isShuttingDownGracefully {
            logger.info("shut down before \(node.name) could join")
            return
        }
        let (triggers, trigger) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [refreshInterval] in
                    while !Task.isCancelled {
                        guard (try? await Task.sleep(for: refreshInterval)) != nil else { return }
                        trigger.yield()
                    }
                }
                group.addTask { [store, logger] in
                    while !Task.isCancelled {
                        do {
                            for try await _ in store.updates() { trigger.yield() }
                        } catch is CancellationError {
                            return
                        } catch {
                            if Task.isCancelled { return }
                            logger.warning("watching the node list failed, re-watching", metadata: ["error": "\(error)"])
                        }
                        guard (try? await Task.sleep(for: .seconds(1))) != nil else { return }
                    }
                }
                await self.refresh()
                for await _ in triggers {
                    await self.refresh()
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            trigger.finish()
        }
        if Task.isCancelled && !Task.isShuttingDownGracefully { return }
        do {
            try await store.leave(node)
            logger.info("\(node.name) left the node list")
        } catch {
            logger.warning("leaving the node list failed", metadata: ["error": "\(error)"])
        }
    }

    private func joinRetrying() async throws {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let outcome = try await store.join(node, connect: connect)
                state.withLockedValue { $0.lastOutcome = outcome }
                return
            } catch let error as NodeListError where error.code == .corruptValue || error.code == .tooManyNodes
                || error.code == .valueTooLarge || error.code == .invalidNode {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("joining failed, retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                try await Task.sleep(for: min(.seconds(1) * attempt, .seconds(5)))
            }
        }
    }

    /// Re-reads the list, re-adds this node if it is missing, and updates readiness.
    private func refresh() async {
        do {
            var nodes = try await store.nodes()
            if !nodes.contains(where: { $0.name == node.name && $0.incarnation == node.incarnation }) {
                logger.warning("\(node.name) is no longer listed (swept while slow?) — re-adding it")
                let outcome = try await store.join(node, connect: connect)
                state.withLockedValue { $0.lastOutcome = outcome }
                nodes = outcome.nodes
            }
            guard !isReady else { return }
            let others = nodes.filter { $0.name != node.name }
            let alive = others.isEmpty ? [] : await store.probeAll(others)
            let responsive = 1 + alive.filter { $0 }.count
            if responsive >= quorum {
                logger.info("ready: \(responsive) listed node(s) respond, quorum is \(quorum)")
                let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
                    state.ready = true
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume() }
            } else {
                logger.info("not ready yet: \(responsive) listed node(s) respond, quorum is \(quorum)")
            }
        } catch is CancellationError {
        } catch {
            logger.warning("refreshing the node list failed", metadata: ["error": "\(error)"])
        }
    }
}
