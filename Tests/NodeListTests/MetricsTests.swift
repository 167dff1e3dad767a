import AutoCluster
import Metrics
import NodeList
import StoreTestSupport
import Testing

/// Counts what NodeListStore reports, without bootstrapping the process-wide MetricsSystem
/// (other suites share this process).
final class RecordingMetrics: MetricsFactory {
    let values = TestMutex<[String: Int64]>([:])

    func value(_ label: String) -> Int64 { values.withLock { $0[label, default: 0] } }

    final class Handler: CounterHandler, TimerHandler, RecorderHandler, FloatingPointCounterHandler, MeterHandler {
        let label: String
        let owner: RecordingMetrics
        init(_ label: String, _ owner: RecordingMetrics) {
            self.label = label
            self.owner = owner
        }
        func increment(by amount: Int64) { owner.values.withLock { $0[label, default: 0] += amount } }
        func increment(by amount: Double) { increment(by: Int64(amount)) }
        func reset() { owner.values.withLock { $0[label] = 0 } }
        func recordNanoseconds(_ duration: Int64) { owner.values.withLock { $0[label + ".count", default: 0] += 1 } }
        func record(_ value: Int64) {}
        func record(_ value: Double) {}
        func set(_ value: Int64) {}
        func set(_ value: Double) {}
        func decrement(by: Double) {}
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { Handler(label, self) }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler { Handler(label, self) }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler { Handler(label, self) }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { Handler(label, self) }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { Handler(label, self) }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

@Suite struct MetricsTests {
    /// live, dead, other — with votes of live and other against dead: with the joiner's own fresh
    /// verdict, observers forming a majority of the list agree.
    static let voted = """
        {"format":1,"nodes":[{"name":"live","address":"127.0.0.1:1","incarnation":"l","joinedAt":"2026-01-01T00:00:00Z"},
        {"name":"dead","address":"127.0.0.1:2","incarnation":"d","joinedAt":"2026-01-01T00:00:00Z",
         "suspectedBy":[{"name":"live","incarnation":"l","pastGrace":true},{"name":"other","incarnation":"o","pastGrace":true}]},
        {"name":"other","address":"127.0.0.1:3","incarnation":"o","joinedAt":"2026-01-01T00:00:00Z"}]}
        """

    @Test func joinsConflictsSweepsAndProbeFailuresAreCounted() async throws {
        let key = "/autocluster/metrics"
        let old = NodeListCoreTests.old
        let backend = InProcessBackend { backend, attempt in
            guard attempt == 1 else { return }
            // A competing write: "other" joined, and "live" and "other" have voted "dead" dead.
            backend.write(key: key, value: Array(MetricsTests.voted.utf8))
        }
        backend.write(key: key, value: NodeListDocument(nodes: [
            ClusterNode(name: "live", address: "127.0.0.1:1", incarnation: "l", joinedAt: old),
            ClusterNode(name: "dead", address: "127.0.0.1:2", incarnation: "d", joinedAt: old),
        ]).encoded())
        let metrics = RecordingMetrics()
        var configuration = NodeListStore.Configuration()
        configuration.metricsFactory = metrics
        configuration.probeAttempts = 2
        configuration.sweepGracePeriod = .zero  // the joiner's own vote counts at once
        let store = NodeListStore(
            backend: backend, key: key, probe: ClosureProbe { node, _ in node.name != "dead" }, configuration: configuration)
        let outcome = try await store.join(ClusterNode(name: "me", address: "127.0.0.1:9"))
        #expect(outcome.attempts == 2)
        #expect(outcome.swept.map(\.name) == ["dead"])
        #expect(metrics.value("autocluster_nodelist_joins_total") == 1)
        #expect(metrics.value("autocluster_nodelist_cas_conflicts_total") == 1)
        #expect(metrics.value("autocluster_nodelist_swept_nodes_total") == 1)
        #expect(metrics.value("autocluster_nodelist_probe_failures_total") == 2)
        #expect(metrics.value("autocluster_nodelist_join_duration_seconds.count") == 1)
    }
}
