/// What a join does when the joiner is *isolated*: the nodes it reaches (itself included) are
/// not a strict majority of the list.
public enum IsolatedJoinPolicy: Sendable, Hashable {
    /// Add itself anyway, sweep nothing and call no `connect` (the outcome says
    /// ``JoinOutcome/isolated``). Right for a process's first join: after a whole cluster
    /// restarted, every listed node may be a dead earlier run.
    case add
    /// Write nothing and report ``JoinOutcome/isolated``. What `NodeListService` does when it
    /// re-adds itself after being swept, so a node cut off from the others does not flap in and
    /// out of the list.
    case wait
}
