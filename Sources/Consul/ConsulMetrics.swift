import Metrics

/// swift-metrics instruments of a client: `consul_requests_total` and `consul_request_errors_total`
/// (dimension `operation`, and `code` for errors) and the `consul_request_duration` timer.
struct ConsulMetrics: Sendable {
    func recordSuccess(operation: String, started: ContinuousClock.Instant) {
        Counter(label: "consul_requests_total", dimensions: [("operation", operation)]).increment()
        record(operation: operation, started: started)
    }

    func recordFailure(operation: String, code: ConsulError.Code, started: ContinuousClock.Instant) {
        Counter(label: "consul_requests_total", dimensions: [("operation", operation)]).increment()
        Counter(label: "consul_request_errors_total", dimensions: [("operation", operation), ("code", code.description)])
            .increment()
        record(operation: operation, started: started)
    }

    private func record(operation: String, started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        Timer(label: "consul_request_duration", dimensions: [("operation", operation)])
            .recordNanoseconds(elapsed.nanoseconds)
    }
}
