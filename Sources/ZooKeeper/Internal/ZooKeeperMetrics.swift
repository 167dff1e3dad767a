import Metrics
import NIOConcurrencyHelpers

/// The swift-metrics instruments of one connection (`autocluster_zookeeper_*`, see the Metrics
/// article): every operation counts in `…_operations_total{operation}` and its time in
/// `…_operation_duration_seconds{operation}`; a failure also in
/// `…_operation_errors_total{operation,code}` (code: the ``ZooKeeperError/Code``).
final class ZooKeeperMetrics: Sendable {
    private let factory: any MetricsFactory

    init(factory: (any MetricsFactory)?) {
        self.factory = factory ?? MetricsSystem.factory
    }

    func record(operation: String, error: ZooKeeperError.Code?, since start: ContinuousClock.Instant) {
        let metrics = perOperation(operation)
        metrics.total.increment()
        if let error {
            Counter(label: "autocluster_zookeeper_operation_errors_total",
                    dimensions: [("operation", operation), ("code", error.description)], factory: factory).increment()
        }
        let elapsed = ContinuousClock.now - start
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        metrics.duration.recordNanoseconds(nanoseconds)
    }

    /// The total counter and the timer of one operation, made once per connection (per call
    /// they cost ~2,200 instructions, scripts/profile.sh).
    private func perOperation(_ operation: String) -> (total: Counter, duration: Metrics.Timer) {
        cache.withLockedValue { cache in
            if let metrics = cache[operation] { return metrics }
            let dimensions = [("operation", operation)]
            let metrics = (total: Counter(label: "autocluster_zookeeper_operations_total", dimensions: dimensions, factory: factory),
                           duration: Metrics.Timer(label: "autocluster_zookeeper_operation_duration_seconds",
                                                   dimensions: dimensions, factory: factory))
            cache[operation] = metrics
            return metrics
        }
    }
    private let cache = NIOLockedValueBox<[String: (total: Counter, duration: Metrics.Timer)]>([:])
}
