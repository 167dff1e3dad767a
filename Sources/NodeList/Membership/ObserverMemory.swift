/// What one observer (one `NodeListStore`) remembers of the entries it has seen, on its own
/// monotonic clock: when it first saw each entry (its grace period starts then), its latest
/// probe verdict, and since when it has found the entry dead without a break.
///
/// Nothing here is compared with another host's clock: every instant is this observer's.
struct ObserverMemory: Sendable {
    struct Verdict: Sendable, Hashable {
        /// The probe round's answer.
        var alive: Bool
        /// When the probe finished (monotonic, this observer's clock).
        var at: Duration
    }

    private(set) var firstSeen: [NodeIdentity: Duration] = [:]
    private(set) var verdicts: [NodeIdentity: Verdict] = [:]
    private(set) var deadSince: [NodeIdentity: Duration] = [:]
    /// This observer's survivor-rule challenges: when each was decided, and whether a write of
    /// it has been seen to succeed.
    private(set) var challenges: [NodeIdentity: Challenge] = [:]
    /// Entries that answered challenges: when last, and how often.
    private(set) var refutations: [NodeIdentity: (at: Duration, count: Int)] = [:]

    struct Challenge: Sendable, Hashable {
        var since: Duration
        var written: Bool
    }

    /// Records the entries of a list just read: an entry never seen before starts its grace
    /// period now. Entries no longer listed are forgotten (a name that comes back with the same
    /// incarnation after being swept starts a fresh grace period too).
    mutating func saw(_ entries: some Sequence<NodeIdentity>, now: Duration) {
        var listed = Set<NodeIdentity>()
        for entry in entries {
            listed.insert(entry)
            if firstSeen[entry] == nil { firstSeen[entry] = now }
        }
        firstSeen = firstSeen.filter { listed.contains($0.key) }
        verdicts = verdicts.filter { listed.contains($0.key) }
        deadSince = deadSince.filter { listed.contains($0.key) }
        challenges = challenges.filter { listed.contains($0.key) }
        refutations = refutations.filter { listed.contains($0.key) }
    }

    /// How long this observer has known `entry` (zero if it never saw it).
    func age(of entry: NodeIdentity, now: Duration) -> Duration {
        guard let first = firstSeen[entry] else { return .zero }
        return max(now - first, .zero)
    }

    /// Records a probe verdict taken at `now`. A dead verdict for an entry past `grace` starts
    /// (or continues) its dead streak; an alive one ends it.
    mutating func record(_ entry: NodeIdentity, alive: Bool, now: Duration, grace: Duration) {
        if firstSeen[entry] == nil { firstSeen[entry] = now }
        verdicts[entry] = Verdict(alive: alive, at: now)
        if alive {
            deadSince[entry] = nil
            challenges[entry] = nil
        } else if age(of: entry, now: now) >= grace, deadSince[entry] == nil {
            deadSince[entry] = now
        }
    }

    /// The verdict on `entry` when it is at most `lifetime` old.
    func freshVerdict(_ entry: NodeIdentity, now: Duration, lifetime: Duration) -> Verdict? {
        guard let verdict = verdicts[entry], now - verdict.at <= lifetime else { return nil }
        return verdict
    }

    /// Since when this observer has found `entry` dead (out of its grace period) without a break.
    func deadStreakStart(_ entry: NodeIdentity) -> Duration? { deadSince[entry] }

    /// Records a challenge decided now (kept if one is pending already).
    mutating func challenge(_ entry: NodeIdentity, now: Duration) {
        if challenges[entry] == nil { challenges[entry] = Challenge(since: now, written: false) }
    }

    /// The entry answered a written challenge (it cleared it): it is alive, whatever the network
    /// between the two says; its dead streak starts again.
    mutating func refuted(_ entry: NodeIdentity, now: Duration) {
        challenges[entry] = nil
        if deadSince[entry] != nil { deadSince[entry] = now }
        refutations[entry] = (now, (refutations[entry]?.count ?? 0) + 1)
    }

    /// Whether a new challenge of `entry` may be issued now: at once the first time; after the
    /// k-th answered one, only `delay` × 2^(k−1) later (at most ×64), so a node that keeps
    /// answering costs a bounded, thinning number of writes.
    func mayChallenge(_ entry: NodeIdentity, now: Duration, delay: Duration) -> Bool {
        guard let last = refutations[entry] else { return true }
        return now - last.at >= delay * (1 << min(last.count - 1, 6))
    }

    /// After a successful write of `document` by `me`: the challenges it carries are written.
    mutating func wrote(_ document: NodeListDocument, as me: NodeIdentity) {
        for (entry, challenge) in challenges where !challenge.written {
            if document.suspicions[entry]?[me]?.challenge == true { challenges[entry]?.written = true }
        }
    }
}
