import Foundation
import Logging
import Metrics

/// The cluster's node list, kept as one JSON value in ZooKeeper, etcd or Consul and changed only
/// by compare-and-swap, with crash-tolerant sweep-on-join.
///
/// ```swift
/// let store = NodeListStore(backend: .etcd(etcd), key: "/autocluster/my-service",
///                           probe: TCPProbe(timeout: .milliseconds(500)))
/// let outcome = try await store.join(me, connect: { seed in try await mySystem.join(seed) })
/// ```
///
/// Every backend behaves the same: see the README's "NodeListStore" section for the rules.
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
        return try NodeListDocument.decode(value.bytes, version: value.version).nodes
    }

    /// The listed nodes and the stored version, nil when the list does not exist.
    public func document() async throws -> (nodes: [ClusterNode], version: UInt64)? {
        guard let value = try await read() else { return nil }
        return (try NodeListDocument.decode(value.bytes, version: value.version).nodes, value.version)
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
            var lastVersion: UInt64?? = .none
            do {
                for try await value in changes {
                    if case .some(let last) = lastVersion, last == value?.version { continue }
                    lastVersion = .some(value?.version)
                    guard let value else {
                        continuation.yield([])
                        continue
                    }
                    do {
                        continuation.yield(try NodeListDocument.decode(value.bytes, version: value.version).nodes)
                    } catch {
                        logger.warning("skipping a stored node list that does not decode", metadata: ["error": "\(error)"])
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: Self.wrap(error, "watching the node list failed", store: self.backend.storeName))
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    // MARK: - Joining and leaving

    /// Joins the cluster: one read, one parallel probe round, the `connect` hook on the first
    /// responsive node, one compare-and-swap that sweeps the dead and adds `node`.
    ///
    /// - Parameters:
    ///   - node: This node. Never probed or swept by itself; an older incarnation of its name is
    ///     replaced.
    ///   - connect: Called with the oldest responsive node (the seed); when it throws, the next
    ///     responsive node is tried. Not called when the list is created or nobody answers.
    /// - Returns: What the join did.
    /// - Throws: ``NodeListError`` `.corruptValue`, `.tooManyNodes`, `.valueTooLarge`, `.contention`,
    ///   `.connectFailed`, `.invalidNode` or `.storeFailure`.
    @discardableResult
    public func join(
        _ node: ClusterNode,
        connect: (ClusterNode) async throws -> Void = { _ in }
    ) async throws -> JoinOutcome {
        try validate(node)
        let start = ContinuousClock.now
        var probed: [ProbeKey: Bool] = [:]
        var seed: ClusterNode?
        var swept: [ClusterNode] = []
        let result = try await update(create: [node]) { list in
            let others = list.filter { $0.name != node.name }
            let now = Date()
            // Probe each entry once per join; on a retry only entries we have not seen yet, and
            // once a seed is found only those old enough to be swept.
            let toProbe = others.filter { other in
                probed[ProbeKey(other)] == nil && (seed == nil || self.age(of: other, now: now) >= self.configuration.sweepGracePeriod)
            }
            for (other, alive) in zip(toProbe, await self.probeAll(toProbe)) {
                probed[ProbeKey(other)] = alive
            }
            if seed == nil {
                var lastError: (any Error)?
                var responsive = 0
                for other in others where probed[ProbeKey(other)] == true {
                    responsive += 1
                    do {
                        try await connect(other)
                        seed = other
                        break
                    } catch {
                        lastError = error
                        self.logger.warning("connect to \(other) failed, trying the next responsive node", metadata: ["error": "\(error)"])
                    }
                }
                if seed == nil && responsive > 0 {
                    throw NodeListError(
                        code: .connectFailed,
                        message: "\(responsive) listed node(s) answered but connect failed for every one of them; "
                            + "\(node.name) was not added",
                        underlying: lastError)
                }
            }
            swept = self.deadEntries(others, probed: probed, now: now)
            var next = list.filter { entry in !swept.contains(where: { $0.name == entry.name && $0.incarnation == entry.incarnation }) }
            if let mine = next.firstIndex(where: { $0.name == node.name && $0.incarnation == node.incarnation }) {
                var kept = node
                kept.joinedAt = next[mine].joinedAt
                next[mine] = kept
            } else {
                next.removeAll { $0.name == node.name }
                next.append(node)
            }
            try self.checkSize(next)
            return next
        }
        if result.created { swept = [] }
        metrics.joins.increment()
        metrics.swept.increment(by: swept.count)
        let elapsed = ContinuousClock.now - start
        metrics.joinLatency.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        logger.info(
            "\(node.name) joined",
            metadata: [
                "seed": "\(seed?.description ?? "none")", "swept": "\(swept.map(\.name))",
                "nodes": "\(result.nodes.count)", "attempts": "\(result.attempts)", "created": "\(result.created)",
            ])
        return JoinOutcome(
            seed: result.created ? nil : seed, swept: swept, nodes: result.nodes, attempts: result.attempts,
            created: result.created, version: result.version)
    }

    /// Removes exactly `node` (its name *and* incarnation) from the list.
    /// - Returns: True when an entry was removed.
    @discardableResult
    public func leave(_ node: ClusterNode) async throws -> Bool {
        try await remove { $0.name == node.name && $0.incarnation == node.incarnation }
    }

    /// Removes every entry named `name`, whatever its incarnation.
    /// - Returns: True when an entry was removed.
    @discardableResult
    public func leave(name: String) async throws -> Bool {
        try await remove { $0.name == name }
    }

    private func remove(where matches: (ClusterNode) -> Bool) async throws -> Bool {
        var removed = false
        _ = try await update(create: nil) { list in
            let next = list.filter { !matches($0) }
            removed = next.count != list.count
            return next
        }
        if removed { logger.info("left the node list") }
        return removed
    }

    /// Probes every listed node (except `excluding`) and removes the dead ones under the same
    /// rules as a join: grace period, nothing swept when nobody answers (by default).
    /// - Parameter excluding: A node name never probed or swept (yourself).
    /// - Returns: The nodes removed.
    @discardableResult
    public func sweep(excluding: String? = nil) async throws -> [ClusterNode] {
        var probed: [ProbeKey: Bool] = [:]
        var swept: [ClusterNode] = []
        _ = try await update(create: nil) { list in
            let others = list.filter { $0.name != excluding }
            let toProbe = others.filter { probed[ProbeKey($0)] == nil }
            for (other, alive) in zip(toProbe, await self.probeAll(toProbe)) {
                probed[ProbeKey(other)] = alive
            }
            swept = self.deadEntries(others, probed: probed, now: Date())
            return list.filter { entry in !swept.contains(where: { $0.name == entry.name && $0.incarnation == entry.incarnation }) }
        }
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

    // MARK: - The compare-and-swap loop

    struct UpdateResult {
        var nodes: [ClusterNode]
        var version: UInt64
        var attempts: Int
        var created: Bool
    }

    /// Read, transform, compare-and-swap; a conflict feeds the fresh value back to `transform`.
    /// `create`: the list to create when the key is absent (nil: nothing to do).
    func update(
        create: [ClusterNode]?,
        _ transform: ([ClusterNode]) async throws -> [ClusterNode]
    ) async throws -> UpdateResult {
        var current = try await read()
        var attempts = 0
        while true {
            attempts += 1
            if attempts > configuration.maxCASAttempts {
                throw NodeListError(
                    code: .contention,
                    message: "the node list at \(key) kept changing: \(configuration.maxCASAttempts) compare-and-swap attempts "
                        + "conflicted — retry, or raise maxCASAttempts",
                    version: current?.version)
            }
            guard let value = current else {
                guard let create else { return UpdateResult(nodes: [], version: 0, attempts: attempts, created: false) }
                let bytes = NodeListDocument(nodes: create).encoded()
                try checkValueSize(bytes)
                switch try await storeCall({ try await self.backend.createIfAbsent(key: self.key, value: bytes) }) {
                case .created(let version):
                    return UpdateResult(nodes: create, version: version, attempts: attempts, created: true)
                case .exists(let fresh):
                    metrics.casConflicts.increment()
                    logger.debug("create-if-absent lost the race, using the value found", metadata: ["version": "\(fresh.version)"])
                    current = fresh
                    continue
                }
            }
            var list: [ClusterNode]
            var replacing = false
            do {
                list = try NodeListDocument.decode(value.bytes, version: value.version).nodes
            } catch let error as NodeListError where error.code == .corruptValue {
                guard configuration.corruptValuePolicy == .replaceCorrupt else { throw error }
                logger.warning(
                    "replacing a corrupt node list by compare-and-swap (policy .replaceCorrupt)",
                    metadata: ["version": "\(value.version)", "error": "\(error.message)"])
                list = []
                replacing = true
            }
            let original = list
            list = Self.deduplicated(list)
            let next = try await transform(list)
            if next == original && !replacing {
                return UpdateResult(nodes: next, version: value.version, attempts: attempts, created: false)
            }
            let bytes = NodeListDocument(nodes: next).encoded()
            try checkValueSize(bytes)
            switch try await storeCall({ try await self.backend.compareAndSwap(key: self.key, expected: value.version, value: bytes) }) {
            case .swapped(let version):
                return UpdateResult(nodes: next, version: version, attempts: attempts, created: false)
            case .conflict(let fresh):
                metrics.casConflicts.increment()
                logger.debug("compare-and-swap conflict, retrying", metadata: ["expected": "\(value.version)", "attempt": "\(attempts)"])
                current = fresh
                try await Task.sleep(for: configuration.backoff.delay(attempt: attempts))
            }
        }
    }

    // MARK: - Rules

    /// One entry per name: the newest `joinedAt` wins (a later incarnation replaces an older one).
    static func deduplicated(_ list: [ClusterNode]) -> [ClusterNode] {
        var best: [String: Int] = [:]
        for (i, node) in list.enumerated() {
            if let j = best[node.name], list[j].joinedAt > node.joinedAt { continue }
            best[node.name] = i
        }
        guard best.count != list.count else { return list }
        return list.enumerated().filter { best[$0.element.name] == $0.offset }.map(\.element)
    }

    /// The entries to sweep: probed dead, old enough, and only when someone answered (unless
    /// `sweepWhenNoneRespond`).
    func deadEntries(_ others: [ClusterNode], probed: [ProbeKey: Bool], now: Date) -> [ClusterNode] {
        let anyAlive = others.contains { probed[ProbeKey($0)] != false }
        if !anyAlive && !configuration.sweepWhenNoneRespond {
            if !others.isEmpty { logger.info("no listed node answered; sweeping nothing (this node may be the one cut off)") }
            return []
        }
        return others.filter { probed[ProbeKey($0)] == false && age(of: $0, now: now) >= configuration.sweepGracePeriod }
    }

    func age(of node: ClusterNode, now: Date) -> Duration {
        .nanoseconds(Int64(max(now.timeIntervalSince(node.joinedAt), 0) * 1e9))
    }

    func checkSize(_ list: [ClusterNode]) throws {
        if list.count > configuration.maxNodes {
            throw NodeListError(
                code: .tooManyNodes,
                message: "the node list at \(key) would hold \(list.count) nodes, more than maxNodes (\(configuration.maxNodes)) — "
                    + "remove stale entries or raise maxNodes")
        }
    }

    /// Refuses, before sending, a list the store would refuse for its size.
    func checkValueSize(_ bytes: [UInt8]) throws {
        if let limit = backend.maximumValueSize(key: key), bytes.count > limit {
            throw NodeListError(
                code: .valueTooLarge,
                message: "the node list at \(key) would be \(bytes.count) bytes, over \(backend.storeName)'s limit of \(limit) bytes "
                    + "for one value; nothing was written — sweep stale entries or store less metadata per node")
        }
    }

    func validate(_ node: ClusterNode) throws {
        guard !node.name.isEmpty else {
            throw NodeListError(code: .invalidNode, message: "a node needs a non-empty name")
        }
        guard node.hostAndPort != nil else {
            throw NodeListError(code: .invalidNode, message: "node \(node.name): address \"\(node.address)\" is not host:port")
        }
    }

    // MARK: - Probing

    struct ProbeKey: Hashable {
        var name: String
        var incarnation: String
        init(_ node: ClusterNode) {
            name = node.name
            incarnation = node.incarnation
        }
    }

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
                        logger.debug("probe of \(node) failed", metadata: ["attempt": "\(attempt)"])
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
            throw Self.wrap(error, "the node list at \(key) could not be read or written", store: backend.storeName)
        }
    }

    static func wrap(_ error: any Error, _ what: String, store: String) -> any Error {
        if error is NodeListError || error is CancellationError { return error }
        if let denied = NodeListError.accessDenied(error, what, store: store) { return denied }
        return NodeListError(code: .storeFailure, message: "\(what) — \(store): \(error)", underlying: error)
    }
}
