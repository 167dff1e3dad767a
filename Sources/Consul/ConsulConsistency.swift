/// Consul's read consistency modes (Consul API docs, "Consistency Modes").
public enum ConsulConsistency: Sendable, Hashable {
    /// Strongly consistent in almost all cases; the leader answers without a round of quorum
    /// confirmation (a stale read is possible for a short window around a leader change).
    case `default`
    /// The leader confirms with a quorum that it is still leader before answering (`?consistent`).
    /// Use it for reads that feed a compare-and-swap.
    case consistent
    /// Any server answers, possibly with stale data (`?stale`); `lastContact` and `knownLeader`
    /// of the result say how stale.
    case stale

    var queryItem: (String, String?)? {
        switch self {
        case .default: nil
        case .consistent: ("consistent", nil)
        case .stale: ("stale", nil)
        }
    }
}
