/// One join, refresh, sweep or leave as a pure state machine: each event (a read's value, probe
/// verdicts, a compare-and-swap's answer, …) returns the next action. `NodeListStore` performs
/// the actions against a real backend and probe; the deterministic simulation performs them in
/// virtual time. The observer's memory is passed in with every event, so several operations of
/// one store share it.
struct NodeListOperation: Sendable {
    enum Kind: Sendable, Hashable {
        case join(ClusterNode, IsolatedJoinPolicy)
        case refresh(NodeIdentity)
        case sweep(excluding: String?)
        case leave(LeaveMatch)
    }

    enum LeaveMatch: Sendable, Hashable {
        case identity(NodeIdentity)
        case name(String)

        func matches(_ node: ClusterNode) -> Bool {
            switch self {
            case .identity(let id): NodeIdentity(node) == id
            case .name(let name): node.name == name
            }
        }
    }

    struct Limits: Sendable, Hashable {
        var maxNodes: Int
        var maxCASAttempts: Int
        var maximumValueSize: Int?
        var corruptValuePolicy: NodeListStore.CorruptValuePolicy
        var backoff: NodeListStore.Backoff
        var storeName: String
    }

    enum Action: Sendable {
        /// Read the list consistently; answer with ``Event/read(_:)``.
        case read
        /// Probe these nodes (one round, in parallel); answer with ``Event/probed(_:)``.
        case probe([ClusterNode])
        /// Call `connect` on each in order until one succeeds; answer with ``Event/connected(_:failure:)``.
        case connect([ClusterNode])
        /// Create the list; answer with ``Event/created(_:)``.
        case create([UInt8])
        /// Compare-and-swap; answer with ``Event/swapped(_:latency:)``.
        case swap(expected: UInt64, value: [UInt8])
        /// Wait a random time of at most `upTo` (jittered by the driver); answer ``Event/slept(_:)``.
        case backoff(upTo: Duration, jitter: Double)
        /// Done.
        case finish(Outcome)
        /// Failed; nothing more to do.
        case fail(NodeListError)
    }

    enum Event: Sendable {
        case read(VersionedValue?)
        case probed([(node: ClusterNode, alive: Bool)])
        case connected(ClusterNode?, failure: String?)
        case created(CreateResult)
        case swapped(SwapResult, latency: Duration)
        case slept(Duration)
    }

    /// What the operation did.
    struct Outcome: Sendable, Hashable {
        var nodes: [ClusterNode] = []
        var version: UInt64 = 0
        var attempts = 0
        var conflicts = 0
        var created = false
        var wrote = false
        var swept: [ClusterNode] = []
        var replaced: [ClusterNode] = []
        var seed: ClusterNode?
        var isolated = false
        var responsive = 0
        var listed = 0
        var selfListed = false
        var exists = false
        var removed = 0
        var namesakes: [ClusterNode] = []
    }

    private enum State: Sendable {
        case idle
        case reading
        case probing
        case connecting(MembershipRules.Decision)
        case creating
        case swapping(MembershipRules.Decision?, NodeListDocument)
        case sleeping(rereadAfter: Duration)
        case done
    }

    let kind: Kind
    let rules: MembershipRules
    let limits: Limits
    let key: String
    private var state: State = .idle
    private var current: VersionedValue? {
        didSet { decoded = nil }
    }
    /// `current` decoded (once per value: a large list costs its decoding once per attempt).
    private var decoded: Result<(NodeListDocument, Bool), NodeListError>?
    private var attempts = 0
    private var conflicts = 0
    private var seed: ClusterNode?
    private var seedSearched = false
    private var lastLatency: Duration = .zero

    init(kind: Kind, rules: MembershipRules, limits: Limits, key: String) {
        self.kind = kind
        self.rules = rules
        self.limits = limits
        self.key = key
    }

    var role: MembershipRules.Role {
        switch kind {
        case .join(let node, _): .joining(node)
        case .refresh(let id): .member(id)
        case .sweep(let excluding): .outsider(excluding: excluding)
        case .leave: .outsider(excluding: nil)
        }
    }

    mutating func start() -> Action {
        state = .reading
        return .read
    }

    mutating func handle(_ event: Event, memory: inout ObserverMemory, now: Duration) -> Action {
        switch (state, event) {
        case (.reading, .read(let value)):
            current = value
            return proceed(memory: &memory, now: now)

        case (.probing, .probed(let verdicts)):
            for (node, alive) in verdicts {
                memory.record(NodeIdentity(node), alive: alive, now: now, grace: rules.sweepGracePeriod)
            }
            return decide(memory: &memory, now: now)

        case (.connecting(let decision), .connected(let found, let failure)):
            seedSearched = true
            guard let found else {
                state = .done
                return .fail(NodeListError(
                    code: .connectFailed,
                    message: "\(decision.responsiveOthers.count) listed node(s) answered but connect failed for every one of them"
                        + (failure.map { " (last: \($0))" } ?? "") + "; \(joinerName) was not added"))
            }
            seed = found
            // `connect` may have taken long: take the decision again from fresh verdicts.
            return proceed(memory: &memory, now: now)

        case (.creating, .created(.created(let version))):
            state = .done
            guard case .join(let node, _) = kind else { return .fail(internalError("created without a joiner")) }
            return .finish(outcome(nodes: [node], version: version, created: true, wrote: true))

        case (.creating, .created(.exists(let fresh))):
            conflicts += 1
            current = fresh
            return proceed(memory: &memory, now: now)

        case (.swapping(let decision, let next), .swapped(.swapped(let version), _)):
            state = .done
            if let me = role.identity { memory.wrote(next, as: me) }
            var result = outcome(nodes: next.nodes, version: version, created: false, wrote: true)
            if let decision { result.apply(decision) }
            if case .leave(let match) = kind { result.removed = (current.flatMap { try? NodeListDocument.decode($0.bytes, version: $0.version) }?.nodes ?? []).filter(match.matches).count }
            return .finish(result)

        case (.swapping, .swapped(.conflict(let fresh), let latency)):
            conflicts += 1
            current = fresh
            lastLatency = latency
            let bound = limits.backoff.bound(conflict: conflicts, latency: latency)
            state = .sleeping(rereadAfter: latency)
            return .backoff(upTo: bound, jitter: limits.backoff.jitter)

        case (.sleeping(let rereadAfter), .slept(let waited)):
            // The fresh value a conflict returned is only as fresh as the wait was short.
            if waited > rereadAfter {
                state = .reading
                return .read
            }
            return proceed(memory: &memory, now: now)

        default:
            state = .done
            return .fail(internalError("unexpected event \(event) in state \(state)"))
        }
    }

    private var joinerName: String {
        if case .join(let node, _) = kind { return node.name }
        return "the node"
    }

    private func internalError(_ what: String) -> NodeListError {
        NodeListError(code: .storeFailure, message: "internal error in the node-list operation on \(key): \(what)")
    }

    private func outcome(nodes: [ClusterNode], version: UInt64, created: Bool, wrote: Bool) -> Outcome {
        var outcome = Outcome()
        outcome.nodes = nodes
        outcome.version = version
        outcome.attempts = max(attempts, 1)
        outcome.conflicts = conflicts
        outcome.created = created
        outcome.wrote = wrote
        outcome.seed = created ? nil : seed
        outcome.exists = true
        if created {
            outcome.responsive = 1
            outcome.listed = 1
            outcome.selfListed = true
        }
        return outcome
    }

    /// The stored document (or the empty one a `.replaceCorrupt` policy starts from).
    private mutating func document() throws(NodeListError) -> (NodeListDocument, replacing: Bool) {
        if decoded == nil { decoded = decodeCurrent() }
        return try decoded!.get()
    }

    private func decodeCurrent() -> Result<(NodeListDocument, Bool), NodeListError> {
        Result { () throws(NodeListError) in try decodeValue() }
    }

    private func decodeValue() throws(NodeListError) -> (NodeListDocument, Bool) {
        guard let value = current else { return (NodeListDocument(nodes: []), false) }
        do {
            return (try NodeListDocument.decode(value.bytes, version: value.version), false)
        } catch let error as NodeListError where error.code == .corruptValue {
            guard limits.corruptValuePolicy == .replaceCorrupt else { throw error }
            return (NodeListDocument(nodes: []), true)
        } catch {
            throw NodeListError(code: .corruptValue, message: "\(error)")
        }
    }

    private mutating func proceed(memory: inout ObserverMemory, now: Duration) -> Action {
        guard current != nil else {
            if case .join(let node, _) = kind {
                let bytes = NodeListDocument(nodes: [node]).encoded()
                if let failure = checkValueSize(bytes) { return fail(failure) }
                attempts += 1
                if attempts > limits.maxCASAttempts { return fail(contention()) }
                state = .creating
                return .create(bytes)
            }
            state = .done
            var outcome = outcome(nodes: [], version: 0, created: false, wrote: false)
            outcome.exists = false
            return .finish(outcome)
        }
        let doc: NodeListDocument
        do {
            doc = try document().0
        } catch {
            return fail(error)
        }
        memory.saw(doc.nodes.map(NodeIdentity.init), now: now)
        if case .leave = kind { return decide(memory: &memory, now: now) }
        let toProbe = rules.entriesToProbe(MembershipRules.deduplicated(doc), role: role, memory: memory, now: now)
        if !toProbe.isEmpty {
            state = .probing
            return .probe(toProbe)
        }
        return decide(memory: &memory, now: now)
    }

    private mutating func decide(memory: inout ObserverMemory, now: Duration) -> Action {
        let original: NodeListDocument
        let replacing: Bool
        do {
            (original, replacing) = try document()
        } catch {
            return fail(error)
        }
        if case .leave(let match) = kind {
            let next = MembershipRules.pruned(NodeListDocument(nodes: original.nodes.filter { !match.matches($0) }, suspicions: original.suspicions))
            return write(next, decision: nil, original: original, replacing: replacing)
        }
        let decision = rules.decide(original, role: role, memory: &memory, now: now)
        switch kind {
        case .join(let node, let policy):
            if let other = decision.liveNamesakes.first {
                return fail(.duplicateName(name: node.name, listed: other, joining: node))
            }
            if decision.isolated && policy == .wait && !decision.selfListed {
                state = .done
                var result = outcome(nodes: original.nodes, version: current?.version ?? 0, created: false, wrote: false)
                result.apply(decision)
                return .finish(result)
            }
            if seed == nil && !seedSearched && !decision.isolated && !decision.responsiveOthers.isEmpty {
                state = .connecting(decision)
                return .connect(decision.responsiveOthers)
            }
            if decision.next.nodes.count > limits.maxNodes {
                return fail(NodeListError(
                    code: .tooManyNodes,
                    message: "the node list at \(key) would hold \(decision.next.nodes.count) nodes, more than maxNodes (\(limits.maxNodes)) — "
                        + "remove stale entries or raise maxNodes"))
            }
        case .refresh:
            if !decision.selfListed {
                state = .done
                var result = outcome(nodes: original.nodes, version: current?.version ?? 0, created: false, wrote: false)
                result.apply(decision)
                result.namesakes = original.nodes.filter { $0.name == role.excludedName }
                return .finish(result)
            }
        case .sweep, .leave:
            break
        }
        return write(decision.next, decision: decision, original: original, replacing: replacing)
    }

    private mutating func write(_ next: NodeListDocument, decision: MembershipRules.Decision?, original: NodeListDocument, replacing: Bool) -> Action {
        guard let value = current else { return fail(internalError("write without a value")) }
        if next == original && !replacing {
            state = .done
            var result = outcome(nodes: next.nodes, version: value.version, created: false, wrote: false)
            if let decision { result.apply(decision) }
            return .finish(result)
        }
        let bytes = next.encoded()
        if let failure = checkValueSize(bytes) { return fail(failure) }
        attempts += 1
        if attempts > limits.maxCASAttempts { return fail(contention()) }
        state = .swapping(decision, next)
        return .swap(expected: value.version, value: bytes)
    }

    private mutating func fail(_ error: NodeListError) -> Action {
        state = .done
        return .fail(error)
    }

    private func contention() -> NodeListError {
        NodeListError(
            code: .contention,
            message: "the node list at \(key) kept changing: \(limits.maxCASAttempts) compare-and-swap attempts "
                + "conflicted — retry, or raise maxCASAttempts",
            version: current?.version)
    }

    private func checkValueSize(_ bytes: [UInt8]) -> NodeListError? {
        guard let limit = limits.maximumValueSize, bytes.count > limit else { return nil }
        return NodeListError(
            code: .valueTooLarge,
            message: "the node list at \(key) would be \(bytes.count) bytes, over \(limits.storeName)'s limit of \(limit) bytes "
                + "for one value; nothing was written — sweep stale entries or store less metadata per node")
    }
}

extension NodeListOperation.Outcome {
    mutating func apply(_ decision: MembershipRules.Decision) {
        swept = decision.swept
        replaced = decision.replaced
        isolated = decision.isolated
        responsive = decision.responsive
        listed = decision.listed
        selfListed = decision.selfListed
    }
}
