import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers

/// The cluster's node list, kept as one JSON value in ZooKeeper, etcd or Consul and changed only
/// by compare-and-swap, with crash-tolerant sweep-on-join.
///
/// ```swift
/// let store = NodeListStore(backend: .etcd(etcd), key: "/autocluster/my-service",
///                           probe: TCPProbe(timeout: .milliseconds(500)))
/// let outcome = try await store.join(me, connect: { seed in try await mySystem.join(seed) })
/// ```
///
/// Every backend behaves the same: see the <doc:JoinAndSweep> article for the rules.
public final class NodeListStore: Sendable {
    /// The store the list lives in.
    public let backend: any NodeListBackend
    /// The list's key (a znode path for ZooKeeper; the same `/a/b` works on every store).
    public let key: String
    /// How other nodes are probed.
    public let probe: any NodeProbe
    /// Probe, sweep and retry settings.
    public let configuration: Configuration
    /// Where the store logs (`.debug` for each round trip, `.info` for joins and sweeps).
    public let logger: Logger
    let metrics: NodeListMetrics
    /// This observer's memory of the entries it has seen (grace periods, verdicts), shared by its
    /// operations.
    let memory = NIOLockedValueBox(ObserverMemory())

    /// Creates a node list over `backend`.
    /// - Parameters:
    ///   - backend: `.zooKeeper(client)`, `.etcd(client)`, `.consul(client)` or your own backend.
    ///   - key: Where the list is stored, e.g. `/autocluster/my-service`.
    ///   - probe: How other nodes are probed; defaults to ``TCPProbe`` with a 500 ms timeout.
    ///   - configuration: Defaults to ``Configuration/init()``.
    ///   - logger: Defaults to a logger labelled `autocluster.nodelist`.
    public init(
        backend: some NodeListBackend,
        key: String,
        probe: any NodeProbe = TCPProbe(),
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "autocluster.nodelist")
    ) {
        self.backend = backend
        self.key = key
        self.probe = probe
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "nodelist.key"] = "\(key)"
        self.logger = logger
        self.metrics = NodeListMetrics(key: key, factory: configuration.metricsFactory)
    }

    // MARK: - Reading

    /// The listed nodes in join order; empty when the list does not exist yet.
    /// - Throws: ``NodeListError`` `.corruptValue` when the stored value does not decode,
    ///   `.storeFailure` when the store fails.
    public func nodes() async throws -> [ClusterNode] {
        guard let value = try await read() else { return [] }
        return MembershipRules.deduplicated(try NodeListDocument.decode(value.bytes, version: value.version)).nodes
    }

    /// The listed nodes and the stored version, nil when the list does not exist.
    public func document() async throws -> (nodes: [ClusterNode], version: UInt64)? {
        guard let value = try await read() else { return nil }
        return (MembershipRules.deduplicated(try NodeListDocument.decode(value.bytes, version: value.version)).nodes, value.version)
    }

    /// The list after every change the store reports, starting with the list as it is now.
    ///
    /// Driven by the backend's watch: etcd reports every committed revision; ZooKeeper and Consul
    /// report each change they see (two writes in quick succession can arrive as one). A stored
    /// value that does not decode is skipped (and logged); an absent list yields `[]`.
    public func updates() -> AsyncThrowingStream<[ClusterNode], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[ClusterNode], any Error>.makeStream()
        let changes = backend.changes(key: key)
        let logger = self.logger
        let task = Task {
            // Skip only an exact repeat (same version and bytes): a delete + re-create that arrives
            // as one event still differs in its bytes or (ZooKeeper: mzxid) its version.
            var last: VersionedValue?? = .none
            do {
                for try await value in changes {
                    if case .some(let previous) = last, previous == value { continue }
                    last = .some(value)
                    guard let value else {
                        continuation.yield([])
                        continue
                    }
                    do {
                        continuation.yield(MembershipRules.deduplicated(try NodeListDocument.decode(value.bytes, version: value.version)).nodes)
                    } catch {
                        logger.warning("skipping a stored node list that does not decode", error: error)
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: Self.wrap(error, "watching the node list failed", backend: self.backend))
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    // MARK: - Joining and leaving

    /// Joins the cluster: one consistent read, one parallel probe round, the `connect` hook on the
    /// first responsive node, one compare-and-swap that records this node's votes, removes what the
    /// sweep rules allow and adds `node`.
    ///
    /// - Parameters:
    ///   - node: This node. Never probed or swept by itself; an older incarnation of its name at
    ///     its own address, or one that does not answer, is replaced.
    ///   - ifIsolated: What to do when the nodes this one reaches are no strict majority of the
    ///     list. Default ``IsolatedJoinPolicy/add``.
    ///   - connect: Called with the oldest responsive node (the seed); when it throws, the next
    ///     responsive node is tried. Not called when the list is created, nobody answers, or the
    ///     joiner is isolated.
    /// - Returns: What the join did.
    /// - Throws: ``NodeListError`` `.corruptValue`, `.tooManyNodes`, `.valueTooLarge`, `.contention`,
    ///   `.connectFailed`, `.duplicateName`, `.invalidNode` or `.storeFailure`.
    @discardableResult
    public func join(
        _ node: ClusterNode,
        ifIsolated: IsolatedJoinPolicy = .add,
        connect: (ClusterNode) async throws -> Void = { _ in }
    ) async throws -> JoinOutcome {
        try validate(node)
        let start = clock.now
        let result = try await run(.join(node, ifIsolated), connect: connect)
        metrics.joins.increment()
        metrics.swept.increment(by: result.swept.count)
        let elapsed = clock.now - start
        metrics.joinLatency.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        let added = result.created || result.wrote || result.nodes.contains { $0.name == node.name && $0.incarnation == node.incarnation }
        logger.info(
            added ? "\(node.name) joined" : "\(node.name) is isolated and was not added",
            metadata: [
                "nodelist.seed": "\(result.seed?.description ?? "none")", "nodelist.swept": "\(result.swept.map(\.name))",
                "nodelist.nodes": "\(result.nodes.count)", "nodelist.attempts": "\(result.attempts)", "nodelist.created": "\(result.created)",
                "nodelist.responsive": "\(result.responsive)", "nodelist.listed": "\(result.listed)", "nodelist.isolated": "\(result.isolated)",
            ])
        return JoinOutcome(
            seed: result.seed, swept: result.swept, nodes: result.nodes, attempts: result.attempts,
            created: result.created, version: result.version, isolated: result.isolated,
            responsive: result.responsive, listed: result.listed, added: added)
    }

    /// One refresh of a listed node: probes the others (reusing verdicts of this probe round),
    /// records this node's votes when they changed, and removes what the sweep rules allow.
    /// Nothing is written when nothing changed. `NodeListService` calls it on every refresh.
    /// - Parameter node: The listed node refreshing (name and incarnation).
    /// - Returns: What it found: whether `node` is listed, isolated, and how many answer.
    /// - Throws: ``NodeListError`` `.corruptValue`, `.contention`, `.valueTooLarge` or `.storeFailure`.
    @discardableResult
    public func refresh(_ node: ClusterNode) async throws -> RefreshOutcome {
        let result = try await run(.refresh(NodeIdentity(node)), connect: { _ in })
        metrics.swept.increment(by: result.swept.count)
        if !result.swept.isEmpty { logger.info("swept \(result.swept.map(\.name))") }
        let status: RefreshOutcome.Status
        if !result.selfListed {
            status = result.namesakes.isEmpty ? .notListed : .replaced(by: result.namesakes)
        } else {
            status = result.isolated ? .isolated : .listed
        }
        return RefreshOutcome(
            status: status, nodes: result.nodes, swept: result.swept, responsive: result.responsive, listed: result.listed,
            version: result.version)
    }

    /// Removes exactly `node` (its name *and* incarnation) from the list.
    /// - Returns: True when an entry was removed.
    @discardableResult
    public func leave(_ node: ClusterNode) async throws -> Bool {
        let removed = try await run(.leave(.identity(NodeIdentity(node))), connect: { _ in }).removed > 0
        if removed { logger.info("left the node list") }
        return removed
    }

    /// Removes every entry named `name`, whatever its incarnation.
    /// - Returns: True when an entry was removed.
    @discardableResult
    public func leave(name: String) async throws -> Bool {
        let removed = try await run(.leave(.name(name)), connect: { _ in }).removed > 0
        if removed { logger.info("left the node list") }
        return removed
    }

    /// Probes every listed node (except `excluding`) and removes those the sweep rules allow.
    ///
    /// Called by a listed node (`excluding` its own name) it votes and sweeps as that member; by
    /// anyone else it casts no vote and removes only entries its own fresh probe finds dead that
    /// a majority of the nodes it reaches has already voted against.
    /// - Parameter excluding: A node name never probed or swept (yourself).
    /// - Returns: The nodes removed.
    @discardableResult
    public func sweep(excluding: String? = nil) async throws -> [ClusterNode] {
        let kind: NodeListOperation.Kind
        if let excluding, let me = try await nodes().first(where: { $0.name == excluding }) {
            kind = .refresh(NodeIdentity(me))
        } else {
            kind = .sweep(excluding: excluding)
        }
        let swept = try await run(kind, connect: { _ in }).swept
        metrics.swept.increment(by: swept.count)
        if !swept.isEmpty { logger.info("swept \(swept.map(\.name))") }
        return swept
    }

    /// The cluster's shared secret: a random 256-bit hex cookie kept beside the list
    /// (at `key + ".secret"`), created once with create-if-absent so every node gets the same.
    public func sharedSecret() async throws -> String {
        let secretKey = backend.secretKey(for: key)
        if let existing = try await storeCall({ try await self.backend.read(key: secretKey) }) {
            return String(decoding: existing.bytes, as: UTF8.self)
        }
        var generator = SystemRandomNumberGenerator()
        let cookie = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        switch try await storeCall({ try await self.backend.createIfAbsent(key: secretKey, value: Array(cookie.utf8)) }) {
        case .created: return cookie
        case .exists(let value): return String(decoding: value.bytes, as: UTF8.self)
        }
    }

    // MARK: - Running an operation

    var rules: MembershipRules {
        MembershipRules(
            sweepGracePeriod: configuration.sweepGracePeriod, survivorDelay: configuration.survivorDelay,
            verdictLifetime: configuration.probeTimeout)
    }

    var limits: NodeListOperation.Limits {
        NodeListOperation.Limits(
            maxNodes: configuration.maxNodes, maxCASAttempts: configuration.maxCASAttempts,
            maximumValueSize: backend.maximumValueSize(key: key), corruptValuePolicy: configuration.corruptValuePolicy,
            backoff: configuration.backoff, storeName: backend.storeName)
    }

    /// Performs the actions of one ``NodeListOperation`` until it finishes.
    func run(_ kind: NodeListOperation.Kind, connect: (ClusterNode) async throws -> Void) async throws -> NodeListOperation.Outcome {
        var operation = NodeListOperation(kind: kind, rules: rules, limits: limits, key: key)
        var action = operation.start()
        while true {
            let event: NodeListOperation.Event
            switch action {
            case .finish(let outcome):
                return outcome
            case .fail(let error):
                throw error
            case .read:
                event = .read(try await read())
            case .probe(let nodes):
                let verdicts = await probeAll(nodes)
                event = .probed(Array(zip(nodes, verdicts)).map { (node: $0.0, alive: $0.1) })
            case .connect(let candidates):
                var failure: String?
                var found: ClusterNode?
                for candidate in candidates {
                    do {
                        try await connect(candidate)
                        found = candidate
                        break
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        failure = NodeListError.summary(of: error)
                        logger.warning("connect to \(candidate) failed, trying the next responsive node", error: error)
                    }
                }
                event = .connected(found, failure: failure)
            case .create(let bytes):
                let result = try await storeCall { try await self.backend.createIfAbsent(key: self.key, value: bytes) }
                if case .exists(let fresh) = result {
                    metrics.casConflicts.increment()
                    logger.debug("create-if-absent lost the race, using the value found", metadata: ["nodelist.version": "\(fresh.version)"])
                }
                event = .created(result)
            case .swap(let expected, let bytes):
                let sent = clock.now
                let result = try await storeCall { try await self.backend.compareAndSwap(key: self.key, expected: expected, value: bytes) }
                if case .conflict = result {
                    metrics.casConflicts.increment()
                    logger.debug("compare-and-swap conflict, retrying", metadata: ["nodelist.expected": "\(expected)"])
                }
                event = .swapped(result, latency: clock.now - sent)
            case .backoff(let bound, _):
                let wait = configuration.backoff.wait(bound: bound, random: Double.random(in: 0...1))
                if wait > .zero { try await clock.sleep(for: wait) }
                event = .slept(wait)
            }
            let now = clock.now
            action = memory.withLockedValue { operation.handle(event, memory: &$0, now: now) }
        }
    }

    var clock: any NodeListClock { configuration.clock }

    func validate(_ node: ClusterNode) throws {
        guard !node.name.isEmpty else {
            throw NodeListError(code: .invalidNode, message: "a node needs a non-empty name")
        }
        guard node.hostAndPort != nil else {
            throw NodeListError(code: .invalidNode, message: "node \(node.name): address \"\(node.address)\" is not host:port")
        }
    }

    // MARK: - Probing

    /// Probes `nodes` in parallel, at most `probeConcurrency` at a time; a node is alive when
    /// one of its `probeAttempts` attempts succeeds within `probeTimeout`.
    func probeAll(_ nodes: [ClusterNode]) async -> [Bool] {
        guard !nodes.isEmpty else { return [] }
        let probe = self.probe
        let attempts = max(configuration.probeAttempts, 1)
        let timeout = configuration.probeTimeout
        let failures = metrics.probeFailures
        let logger = self.logger
        return await withTaskGroup(of: (Int, Bool).self) { group in
            var results = Array(repeating: false, count: nodes.count)
            var next = 0
            func add() {
                let i = next
                let node = nodes[i]
                next += 1
                group.addTask {
                    // The probe timeout bounds the whole probe of a node: attempts re-try the
                    // failures that come back early (refused, reset, an HTTP error), and a node
                    // that does not answer at all costs one timeout, not one per attempt — so a
                    // join with dead nodes stays within one probe round.
                    let deadline = ContinuousClock.now + timeout
                    for attempt in 1...attempts {
                        let remaining = deadline - ContinuousClock.now
                        if remaining <= .zero { break }
                        if await probe.probe(node, timeout: remaining) { return (i, true) }
                        failures.increment()
                        logger.debug("probe of \(node) failed", metadata: ["nodelist.attempt": "\(attempt)"])
                    }
                    return (i, false)
                }
            }
            for _ in 0..<min(max(configuration.probeConcurrency, 1), nodes.count) { add() }
            while let (i, alive) = await group.next() {
                results[i] = alive
                if next < nodes.count { add() }
            }
            return results
        }
    }

    // MARK: - Store calls

    func read() async throws -> VersionedValue? {
        try await storeCall { try await self.backend.read(key: self.key) }
    }

    func storeCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as NodeListError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw Self.wrap(error, "the node list at \(key) could not be read or written", backend: backend)
        }
    }

    static func wrap(_ error: any Error, _ what: String, backend: any NodeListBackend) -> any Error {
        if error is NodeListError || error is CancellationError { return error }
        let store = backend.storeName
        if let advice = backend.accessDeniedAdvice(for: error) {
            return NodeListError.accessDenied(advice: advice, what, store: store, underlying: error)
        }
        let summary = NodeListError.summary(of: error, backend: backend)
        let named = summary.lowercased().contains(store.lowercased()) ? "" : " — \(store)"
        return NodeListError(code: .storeFailure, message: "\(what)\(named): \(summary)", underlying: error)
    }
}
