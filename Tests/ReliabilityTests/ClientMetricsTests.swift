import Consul
import ConsulStandIn
import Etcd
import Foundation
import MetricsTestKit
import StoreTestSupport
import Testing
import ZooKeeper

/// Every client reports to the `metricsFactory` of its configuration, under the one naming
/// scheme of the Metrics article: `autocluster_<client>_<what>s_total{…}` counts every call,
/// `…_errors_total{…,code}` the failures by the module error's code, and
/// `…_duration_seconds{…}` times every call. A factory per client, never the global one.
@Suite("Client metrics: one naming scheme, a factory per client")
struct ClientMetricsTests {
    @Test("ZooKeeper: a get and a failing get are counted, timed, and the failure labelled with its code",
          .enabled(if: TestStores.shouldRun(TestStores.zooKeeperConnect), "needs ZOOKEEPER_CONNECT"))
    func zooKeeper() async throws {
        let metrics = TestMetrics()
        var configuration = ZooKeeperClient.Configuration(connectString: try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT"))
        configuration.metricsFactory = metrics
        let zk = try await ZooKeeperClient.connect(configuration)
        _ = try await zk.get("/")
        let error = await #expect(throws: ZooKeeperError.self) { _ = try await zk.get("/autocluster-metrics-\(UUID().uuidString)") }
        #expect(error?.code == .noNode)
        await zk.close()

        let total = try metrics.expectCounter("autocluster_zookeeper_operations_total", [("operation", "get")])
        #expect(total.totalValue == 2)
        let errors = try metrics.expectCounter("autocluster_zookeeper_operation_errors_total",
                                               [("operation", "get"), ("code", ZooKeeperError.Code.noNode.description)])
        #expect(errors.totalValue == 1)
        let duration = try metrics.expectTimer("autocluster_zookeeper_operation_duration_seconds", [("operation", "get")])
        #expect(duration.values.count == 2)
        #expect(duration.values.allSatisfy { $0 > 0 })
    }

    @Test("etcd: a Range and a failing LeaseRevoke are counted, timed, and the failure labelled with its code",
          .enabled(if: TestStores.shouldRun(TestStores.etcdEndpoints), "needs ETCD_ENDPOINTS"))
    func etcd() async throws {
        let metrics = TestMetrics()
        var configuration = EtcdClient.Configuration(endpoints: try TestStores.require(TestStores.etcdEndpoints, "ETCD_ENDPOINTS"))
        configuration.metricsFactory = metrics
        let etcd = try await EtcdClient.connect(configuration)
        _ = try await etcd.get("/autocluster-metrics-\(UUID().uuidString)")
        let error = await #expect(throws: EtcdError.self) { _ = try await etcd.revokeLease(EtcdLeaseID(0x7ead_beef_0000_0001)) }
        await etcd.close()
        let code = try #require(error?.code)

        let range = try metrics.expectCounter("autocluster_etcd_calls_total", [("method", "/etcdserverpb.KV/Range")])
        #expect(range.totalValue == 1)
        let revoke = try metrics.expectCounter("autocluster_etcd_calls_total", [("method", "/etcdserverpb.Lease/LeaseRevoke")])
        #expect(revoke.totalValue == 1)
        let errors = try metrics.expectCounter("autocluster_etcd_call_errors_total",
                                               [("method", "/etcdserverpb.Lease/LeaseRevoke"), ("code", code.description)])
        #expect(errors.totalValue == 1)
        #expect(metrics.counters(label: "autocluster_etcd_call_errors_total").count == 1, "the Range did not fail")
        let duration = try metrics.expectTimer("autocluster_etcd_call_duration_seconds", [("method", "/etcdserverpb.KV/Range")])
        #expect(duration.values.count == 1)
        #expect(try metrics.expectCounter("autocluster_etcd_connects_total", [("endpoint", configuration.endpoints[0])]).totalValue >= 1)
    }

    @Test("Consul (against the stand-in): a get and a denied get are counted, timed, and the denial labelled with its code")
    func consul() async throws {
        let token = "metrics-test-token-\(UUID().uuidString)"
        TestSecrets.register([token], as: .consulToken)
        var options = ConsulStandIn.Options()
        options.aclToken = token
        let standIn = try await ConsulStandIn.start(options: options)
        let metrics = TestMetrics()
        var configuration = ConsulClient.Configuration(address: standIn.address, token: token)
        configuration.metricsFactory = metrics
        let consul = ConsulClient(configuration)
        _ = try await consul.kv.get("metrics/k")
        try await consul.shutdown()
        var anonymousConfiguration = ConsulClient.Configuration(address: standIn.address)
        anonymousConfiguration.metricsFactory = metrics
        let anonymous = ConsulClient(anonymousConfiguration)
        let error = await #expect(throws: ConsulError.self) { _ = try await anonymous.kv.get("metrics/k") }
        #expect(error?.code == .permissionDenied)
        try await anonymous.shutdown()
        try await standIn.shutdown()

        let total = try metrics.expectCounter("autocluster_consul_requests_total", [("operation", "kv.get")])
        #expect(total.totalValue == 2)
        let errors = try metrics.expectCounter("autocluster_consul_request_errors_total",
                                               [("operation", "kv.get"), ("code", ConsulError.Code.permissionDenied.description)])
        #expect(errors.totalValue == 1)
        let duration = try metrics.expectTimer("autocluster_consul_request_duration_seconds", [("operation", "kv.get")])
        #expect(duration.values.count == 2)
    }
}
