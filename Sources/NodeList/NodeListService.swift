import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Keeps one node in the list for as long as it runs — a swift-service-lifecycle `Service`.
///
/// On start it joins (retrying while the store is unreachable); then it refreshes every
/// `refreshInterval` and on every change the store reports: it probes the others, records its
/// votes and sweeps what the sweep rules allow (``NodeListStore/refresh(_:)``). Readiness follows
/// the list both ways: the service is ready while it is listed, reaches a strict majority of the
/// list, and `quorum` listed nodes (itself included) respond — and stops being ready as soon as
/// one of those fails.
///
/// When its entry was swept (it was cut off, or merely slow), it re-adds itself as a **new
/// incarnation** — a fresh grace period for every observer — and only once it reaches a strict
/// majority of the list again; until then it writes nothing and reports ``State/isolated``. When
/// another live process has taken its name, `run()` throws `NodeListError` `.duplicateName`. On
/// graceful shutdown it leaves the list.
///
/// ```swift
/// let service = NodeListService(store: store, node: me, refreshInterval: .seconds(5),
///                               connect: { seed in try await mySystem.join(seed) })
/// let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm], logger: logger))
/// try await group.run()
/// ```
public final class NodeListService: Service, Sendable {
    /// Where the service stands.
    public enum State: Sendable, Hashable {
        /// Not joined yet.
        case starting
        /// Listed, reaching a strict majority of the list and `quorum` responsive nodes.
        case ready
        /// Listed and reaching a majority, but fewer than `quorum` listed nodes respond.
        case belowQuorum
        /// It reaches no strict majority of the list (it, or the others, are cut off): it sweeps
        /// nothing and, when it is not listed, does not re-add itself.
        case isolated
        /// `run()` has ended.
        case stopped
    }

    /// The list this service keeps `node` in.
    public let store: NodeListStore
    /// This node as it was first joined; see ``currentNode`` for the incarnation listed now.
    public let node: ClusterNode
    /// How often the list is re-read even when the store reports no change.
    public let refreshInterval: Duration
    /// How many listed nodes (this one included) must respond before ``isReady`` turns true.
    public let quorum: Int
    private let connect: @Sendable (ClusterNode) async throws -> Void
    private let logger: Logger
    private let box: NIOLockedValueBox<Shared>

    private struct Shared {
        var state: State = .starting
        var current: ClusterNode
        var connected = false
        var lastOutcome: JoinOutcome?
        var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
        var nextWaiter = 0
    }

    /// Creates the service.
    /// - Parameters:
    ///   - store: The node list.
    ///   - node: This node.
    ///   - refreshInterval: How often to refresh. Default: 5 s. Keep it below the store's
    ///     `survivorDelay` minus the probe timeout (see ``NodeListStore/Configuration/survivorDelay``).
    ///   - quorum: Responsive listed nodes (this one included) needed for readiness, on top of the
    ///     strict majority of the list that is always needed. Default: 1.
    ///   - logger: Defaults to the store's logger.
    ///   - connect: Called with the seed on each join (see ``NodeListStore/join(_:ifIsolated:connect:)``).
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
        self.box = NIOLockedValueBox(Shared(current: node))
    }

    /// Where the service stands now.
    public var state: State { box.withLockedValue { $0.state } }

    /// True while the state is ``State/ready``.
    public var isReady: Bool { state == .ready }

    /// The entry listed for this process now: ``node`` until it was swept and re-added itself as a
    /// new incarnation.
    public var currentNode: ClusterNode { box.withLockedValue { $0.current } }

    /// The outcome of the last join (the first one, or a re-join after being swept).
    public var lastJoin: JoinOutcome? { box.withLockedValue { $0.lastOutcome } }

    /// Returns once the service is ready (see ``isReady``).
    /// - Throws: `CancellationError` when the waiting task is cancelled; ``NodeListError`` with
    ///   code `.serviceStopped` when `run()` ends first.
    public func waitUntilReady() async throws {
        let id = box.withLockedValue { shared -> Int in
            shared.nextWaiter += 1
            return shared.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = box.withLockedValue { shared -> Result<Void, any Error>? in
                    switch shared.state {
                    case .ready: return .success(())
                    case .stopped: return .failure(Self.stoppedError(node.name))
                    default:
                        if Task.isCancelled { return .failure(CancellationError()) }
                        shared.waiters[id] = continuation
                        return nil
                    }
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = box.withLockedValue { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    private static func stoppedError(_ name: String) -> NodeListError {
        NodeListError(code: .serviceStopped, message: "the node-list service of \(name) stopped before it was ready")
    }

    private func setState(_ state: State) {
        let (previous, waiters) = box.withLockedValue { shared -> (State, [CheckedContinuation<Void, any Error>]) in
            let previous = shared.state
            shared.state = state
            guard state == .ready || state == .stopped else { return (previous, []) }
            defer { shared.waiters = [:] }
            return (previous, Array(shared.waiters.values))
        }
        for waiter in waiters {
            if state == .ready { waiter.resume() } else { waiter.resume(throwing: Self.stoppedError(node.name)) }
        }
        if previous != state { logger.info("node-list state \(previous) → \(state)", metadata: ["nodelist.node": "\(node.name)"]) }
    }

    /// Joins, refreshes until graceful shutdown, then leaves.
    /// - Throws: ``NodeListError`` `.duplicateName` when another live process holds this node's
    ///   name, and the errors a join cannot retry (`.corruptValue`, `.tooManyNodes`,
    ///   `.valueTooLarge`, `.invalidNode`).
    public func run() async throws {
        defer { setState(.stopped) }
        // A shutdown while the store is still unreachable ends the retries: nothing to leave.
        do {
            try await cancelWhenGracefulShutdown { try await self.joinRetrying() }
        } catch is CancellationError where Task.isShuttingDownGracefully {
            logger.info("shut down before \(node.name) could join")
            return
        }
        let (triggers, trigger) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        // The refresh timer and the store watch are child tasks of this group: they end with run().
        let failure = await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self, returning: (any Error)?.self) { group in
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
                            logger.warning("watching the node list failed, re-watching", error: error)
                        }
                        guard (try? await Task.sleep(for: .seconds(1))) != nil else { return }
                    }
                }
                var failure: (any Error)?
                do {
                    try await self.refresh()
                    for await _ in triggers { try await self.refresh() }
                } catch {
                    failure = error
                }
                group.cancelAll()
                return failure
            }
        } onGracefulShutdown: {
            trigger.finish()
        }
        if let failure {
            if failure is CancellationError { return }
            throw failure
        }
        if Task.isCancelled && !Task.isShuttingDownGracefully { return }
        do {
            try await store.leave(currentNode)
            logger.info("\(node.name) left the node list")
        } catch {
            logger.warning("leaving the node list failed", error: error)
        }
    }

    private func joinRetrying() async throws {
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await join(currentNode, ifIsolated: .add)
                return
            } catch let error as NodeListError where Self.final(error) {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("joining failed, retrying", error: error, metadata: ["nodelist.attempt": "\(attempt)"])
                try await Task.sleep(for: min(.seconds(1) * attempt, .seconds(5)))
            }
        }
    }

    private static func final(_ error: NodeListError) -> Bool {
        [.corruptValue, .tooManyNodes, .valueTooLarge, .invalidNode, .duplicateName].contains(error.code)
    }

    @discardableResult
    private func join(_ node: ClusterNode, ifIsolated: IsolatedJoinPolicy) async throws -> JoinOutcome {
        let outcome = try await store.join(node, ifIsolated: ifIsolated, connect: connect)
        box.withLockedValue { shared in
            shared.lastOutcome = outcome
            if outcome.added {
                shared.current = node
                shared.connected = shared.connected || outcome.seed != nil || outcome.created || outcome.listed == 1
            }
        }
        updateReadiness(listed: outcome.added, isolated: outcome.isolated, responsive: outcome.responsive)
        return outcome
    }

    private func updateReadiness(listed: Bool, isolated: Bool, responsive: Int) {
        if !listed || isolated {
            setState(.isolated)
        } else if responsive < quorum {
            setState(.belowQuorum)
        } else {
            setState(.ready)
        }
    }

    /// One refresh: probe and vote; re-add as a new incarnation when swept (only when not
    /// isolated); connect when the first join was isolated and the node now reaches a majority.
    private func refresh() async throws {
        let me = currentNode
        do {
            let outcome = try await store.refresh(me)
            switch outcome.status {
            case .listed, .isolated:
                let connected = box.withLockedValue { $0.connected }
                if outcome.status == .listed && !connected {
                    // Joined while isolated: now that a majority answers, connect through a seed.
                    try await join(me, ifIsolated: .wait)
                } else {
                    updateReadiness(listed: true, isolated: outcome.status == .isolated, responsive: outcome.responsive)
                }
            case .notListed, .replaced:
                let fresh = ClusterNode(
                    name: me.name, address: me.address, joinedAt: store.configuration.clock.wallNow, metadata: me.metadata)
                logger.warning(
                    "\(me.name) is no longer listed (swept while cut off or slow?) — re-adding it as a new incarnation once it reaches a majority")
                box.withLockedValue { $0.connected = false }
                try await join(fresh, ifIsolated: .wait)
            }
        } catch let error as NodeListError where error.code == .duplicateName {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.warning("refreshing the node list failed", error: error)
        }
    }
}
