/// What one ``NodeListStore/refresh(_:)`` found.
public struct RefreshOutcome: Sendable, Hashable {
    /// Where the refreshing node stands.
    public enum Status: Sendable, Hashable {
        /// Listed, and the nodes it reaches (itself included) are a strict majority of the list.
        case listed
        /// Listed, but it reaches no strict majority of the list: it swept nothing (but under the
        /// survivor rule) and is not ready.
        case isolated
        /// Its entry is gone (swept, or removed by an operator).
        case notListed
        /// Its entry is gone and these entries of its name, other incarnations, are listed.
        case replaced(by: [ClusterNode])
    }

    /// Where the node stands.
    public var status: Status
    /// The list after the refresh.
    public var nodes: [ClusterNode]
    /// The entries this refresh removed.
    public var swept: [ClusterNode]
    /// Responsive listed nodes, the refreshing node included.
    public var responsive: Int
    /// Listed nodes.
    public var listed: Int
    /// The stored version after the refresh.
    public var version: UInt64

    /// Creates an outcome.
    public init(status: Status, nodes: [ClusterNode], swept: [ClusterNode], responsive: Int, listed: Int, version: UInt64) {
        self.status = status
        self.nodes = nodes
        self.swept = swept
        self.responsive = responsive
        self.listed = listed
        self.version = version
    }
}
