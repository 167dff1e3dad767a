import Metrics

/// The swift-metrics instruments of one store (dimension `key`).
struct NodeListMetrics: Sendable {
    /// `autocluster_nodelist_joins_total`
    let joins: Counter
    /// `autocluster_nodelist_cas_conflicts_total`
    let casConflicts: Counter
    /// `autocluster_nodelist_swept_nodes_total`
    let swept: Counter
    /// `autocluster_nodelist_probe_failures_total`
    let probeFailures: Counter
    /// `autocluster_nodelist_join_duration_seconds`
    let joinLatency: Metrics.Timer

    init(key: String, factory: (any MetricsFactory)?) {
        let dimensions = [("key", key)]
        let factory = factory ?? MetricsSystem.factory
        joins = Counter(label: "autocluster_nodelist_joins_total", dimensions: dimensions, factory: factory)
        casConflicts = Counter(label: "autocluster_nodelist_cas_conflicts_total", dimensions: dimensions, factory: factory)
        swept = Counter(label: "autocluster_nodelist_swept_nodes_total", dimensions: dimensions, factory: factory)
        probeFailures = Counter(label: "autocluster_nodelist_probe_failures_total", dimensions: dimensions, factory: factory)
        joinLatency = Metrics.Timer(label: "autocluster_nodelist_join_duration_seconds", dimensions: dimensions, factory: factory)
    }
}
