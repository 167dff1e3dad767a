import Metrics

/// The swift-metrics instruments of a client (`autocluster_consul_*`, see the Metrics article):
/// every request counts in `…_requests_total{operation}` and its time in
/// `…_request_duration_seconds{operation}`; a failure also in
/// `…_request_errors_total{operation,code}` (code: the ``ConsulError/Code``).
struct ConsulMetrics: Sendable {
    private let factory: any MetricsFactory

    init(factory: (any MetricsFactory)?) {
        self.factory = factory ?? MetricsSystem.factory
    }

    func recordSuccess(operation: String, started: ContinuousClock.Instant) {
        record(operation: operation, started: started)
    }

    func recordFailure(operation: String, code: ConsulError.Code, started: ContinuousClock.Instant) {
        Counter(label: "autocluster_consul_request_errors_total", dimensions: [("operation", operation), ("code", code.description)],
                factory: factory).increment()
        record(operation: operation, started: started)
    }

    private func record(operation: String, started: ContinuousClock.Instant) {
        Counter(label: "autocluster_consul_requests_total", dimensions: [("operation", operation)], factory: factory).increment()
        let elapsed = ContinuousClock.now - started
        Timer(label: "autocluster_consul_request_duration_seconds", dimensions: [("operation", operation)], factory: factory)
            .recordNanoseconds(elapsed.nanoseconds)
    }
}
