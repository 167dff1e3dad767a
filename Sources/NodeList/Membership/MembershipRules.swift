/// The sweep rules, as a pure function of the stored document, this observer's memory and its
/// clock: no I/O, so the same code decides in `NodeListStore` and in the deterministic
/// simulation.
///
/// The rules (the JoinAndSweep article says the same for users):
///
/// * Each listed observer records its latest verdicts as *votes* (`suspectedBy`): it suspects an
///   entry when its fresh probe found it dead, marking the vote `pastGrace` when it has known the
///   entry for longer than the grace period (measured from when *this observer* first saw the
///   entry, on its monotonic clock); it withdraws the vote when the entry answers again. Only
///   `pastGrace` votes count towards a removal; any vote is a sign of life of its observer.
/// * Let R be the responsive listed nodes as this observer sees them (itself included when it is
///   listed or joining) and L the listed nodes. The observer is *isolated* when R is not a strict
///   majority of L. It then sweeps nothing under the majority rule and, if joining with
///   ``IsolatedJoinPolicy/wait``, does not add itself.
/// * **Majority rule**: a not-isolated observer removes an entry that its own fresh verdict finds
///   dead and that observers in R forming a strict majority of the whole list L have voted
///   against past their grace periods — so a node that at least half of the list still reaches
///   is never removed, however the links between the others are cut.
/// * **Survivor rule** (the lone survivor of a crashed cluster still cleans up): an isolated
///   observer that is *listed*, whose fresh verdict finds an entry dead past its grace period,
///   which a majority of R has voted against past grace, and which shows no sign of life (no vote
///   of it against any member of R), first *challenges* it: its vote gets `challenge: true`. A
///   live node clears challenges against itself at its next refresh — it reads the store whatever
///   the network between the two, so this holds through any flapping of the peer links. The
///   observer removes the entry once its written challenge has stood unanswered for
///   ``survivorDelay``, which must be longer than every member's refresh interval plus a probe
///   timeout. A cleared challenge restarts the entry's dead streak.
struct MembershipRules: Sendable {
    /// Entries an observer has known for less than this are never voted against.
    var sweepGracePeriod: Duration
    /// How long the survivor rule waits (see above).
    var survivorDelay: Duration
    /// The oldest verdict a decision may use: one probe round (the probe timeout).
    var verdictLifetime: Duration

    /// Who is deciding.
    enum Role: Sendable, Hashable {
        /// A node joining (or re-joining) with this entry.
        case joining(ClusterNode)
        /// A listed node refreshing its view.
        case member(NodeIdentity)
        /// Someone outside the list (an operator's sweep); never votes. Entries named
        /// `excluding` are left alone.
        case outsider(excluding: String?)

        var identity: NodeIdentity? {
            switch self {
            case .joining(let node): NodeIdentity(node)
            case .member(let id): id
            case .outsider: nil
            }
        }

        var excludedName: String? {
            switch self {
            case .joining(let node): node.name
            case .member(let id): id.name
            case .outsider(let name): name
            }
        }
    }

    /// What a decision found and what the list should become.
    struct Decision: Sendable, Hashable {
        /// The document to write (equal to the input when nothing changes).
        var next: NodeListDocument
        /// Entries removed as dead.
        var swept: [ClusterNode]
        /// Older incarnations of the joiner's name that it replaced.
        var replaced: [ClusterNode]
        /// |R|: responsive listed nodes, the observer included when it is listed or joining.
        var responsive: Int
        /// |L|: listed nodes, the joiner included.
        var listed: Int
        /// R is not a strict majority of L.
        var isolated: Bool
        /// The responsive other entries, in list order (seed candidates).
        var responsiveOthers: [ClusterNode]
        /// Whether the observer's own entry is in the list it read (members only).
        var selfListed: Bool
        /// Entries of the observer's name with another incarnation that answer (a duplicate).
        var liveNamesakes: [ClusterNode]
    }

    /// One entry per name: the last in list order wins, since a join appends, so the newer
    /// incarnation of a name replaces the older one by the store's own ordering (no clock).
    static func deduplicated(_ document: NodeListDocument) -> NodeListDocument {
        var last: [String: Int] = [:]
        for (i, node) in document.nodes.enumerated() { last[node.name] = i }
        guard last.count != document.nodes.count else { return document }
        let nodes = document.nodes.enumerated().filter { last[$0.element.name] == $0.offset }.map(\.element)
        return pruned(NodeListDocument(nodes: nodes, suspicions: document.suspicions))
    }

    /// Drops votes on and by entries that are no longer listed.
    static func pruned(_ document: NodeListDocument) -> NodeListDocument {
        let listed = Set(document.nodes.map(NodeIdentity.init))
        var suspicions: [NodeIdentity: [NodeIdentity: Vote]] = [:]
        for (target, observers) in document.suspicions where listed.contains(target) {
            let kept = observers.filter { listed.contains($0.key) }
            if !kept.isEmpty { suspicions[target] = kept }
        }
        return NodeListDocument(nodes: document.nodes, suspicions: suspicions)
    }

    /// The entries whose verdict must be taken (again) before ``decide(_:role:memory:now:)``:
    /// every other entry without a fresh verdict, the joiner's namesakes at another address
    /// included.
    func entriesToProbe(_ document: NodeListDocument, role: Role, memory: ObserverMemory, now: Duration) -> [ClusterNode] {
        let me = role.identity
        return document.nodes.filter { node in
            let id = NodeIdentity(node)
            if id == me { return false }
            if case .joining(let joiner) = role, node.name == joiner.name, node.address == joiner.address { return false }
            if case .outsider(let excluded) = role, node.name == excluded { return false }
            if case .member(let member) = role, node.name == member.name { return false }
            return memory.freshVerdict(id, now: now, lifetime: verdictLifetime) == nil
        }
    }

    /// Decides, from fresh verdicts (see ``entriesToProbe(_:role:memory:now:)``; an entry without
    /// one counts as unreachable and is never swept), what the list becomes.
    func decide(_ input: NodeListDocument, role: Role, memory: inout ObserverMemory, now: Duration) -> Decision {
        let document = Self.deduplicated(input)
        let me = role.identity
        let myName = role.excludedName
        var selfListed = false
        var others: [ClusterNode] = []
        var namesakes: [ClusterNode] = []
        for node in document.nodes {
            let id = NodeIdentity(node)
            if id == me {
                selfListed = true
            } else if node.name == myName {
                namesakes.append(node)
            } else {
                others.append(node)
            }
        }
        let lifetime = verdictLifetime
        func verdict(_ node: ClusterNode) -> ObserverMemory.Verdict? {
            memory.freshVerdict(NodeIdentity(node), now: now, lifetime: lifetime)
        }
        let responsiveOthers = others.filter { verdict($0)?.alive == true }
        let counted = me != nil  // the observer counts itself when listed or joining
        let listed = others.count + (counted ? 1 : 0)
        let responsive = responsiveOthers.count + (counted ? 1 : 0)
        let isolated = listed > 1 && 2 * responsive <= listed

        // Namesakes: the joiner's own earlier run (same address, or not answering) is replaced;
        // one that answers at another address is a second live process with this name.
        var replaced: [ClusterNode] = []
        var liveNamesakes: [ClusterNode] = []
        if case .joining(let joiner) = role {
            for namesake in namesakes {
                if namesake.address != joiner.address, verdict(namesake)?.alive == true {
                    liveNamesakes.append(namesake)
                } else {
                    replaced.append(namesake)
                }
            }
        }

        // This observer's votes, from its fresh verdicts; a written challenge of its that is gone
        // was answered by a live entry.
        var suspicions = document.suspicions
        if let me {
            for (entry, challenge) in memory.challenges where challenge.written && suspicions[entry]?[me]?.challenge != true {
                memory.refuted(entry, now: now)
            }
            for other in others {
                let id = NodeIdentity(other)
                if verdict(other)?.alive == false {
                    suspicions[id, default: [:]][me] = Vote(
                        pastGrace: memory.age(of: id, now: now) >= sweepGracePeriod, challenge: memory.challenges[id] != nil)
                } else if suspicions[id]?[me] != nil {
                    suspicions[id]?[me] = nil
                }
            }
            // Challenges against this node itself are answered: it is alive.
            if selfListed, let mine = suspicions[me] {
                for (observer, vote) in mine where vote.challenge { suspicions[me]?[observer]?.challenge = false }
            }
        }

        // The sweep.
        var electorate = Set(responsiveOthers.map(NodeIdentity.init))
        if let me { electorate.insert(me) }
        let majorityOfList = listed / 2 + 1
        let majorityOfResponsive = responsive / 2 + 1
        let isMember: Bool = if case .member = role { selfListed } else { false }
        var swept: [ClusterNode] = []
        for other in others where verdict(other)?.alive == false {
            let id = NodeIdentity(other)
            let votes = suspicions[id, default: [:]].filter { $0.value.pastGrace && electorate.contains($0.key) }.count
            if !isolated {
                if votes >= majorityOfList { swept.append(other) }
                continue
            }
            guard votes >= majorityOfResponsive else { continue }
            guard isMember, let me, memory.deadStreakStart(id) != nil else { continue }
            let signOfLife = electorate.contains { suspicions[$0]?[id] != nil }
            if signOfLife { continue }
            if let challenge = memory.challenges[id] {
                if challenge.written, now - challenge.since >= survivorDelay { swept.append(other) }
            } else if memory.mayChallenge(id, now: now, delay: survivorDelay) {
                memory.challenge(id, now: now)
                suspicions[id]?[me]?.challenge = true
            }
        }

        // The next list.
        let removed = Set((swept + replaced).map(NodeIdentity.init))
        var nodes = document.nodes.filter { !removed.contains(NodeIdentity($0)) }
        if case .joining(let joiner) = role, liveNamesakes.isEmpty {
            if let mine = nodes.firstIndex(where: { NodeIdentity($0) == me }) {
                var kept = joiner
                kept.joinedAt = nodes[mine].joinedAt
                nodes[mine] = kept
            } else {
                nodes.append(joiner)
            }
        }
        let next = Self.pruned(NodeListDocument(nodes: nodes, suspicions: suspicions))
        return Decision(
            next: next, swept: swept, replaced: replaced, responsive: responsive, listed: listed,
            isolated: isolated, responsiveOthers: responsiveOthers, selfListed: selfListed, liveNamesakes: liveNamesakes)
    }
}
