import AutoCluster
import ConsulStandIn
import Foundation
import InMemoryTracing
import StoreTestSupport
import Testing
import Tracing

/// With the `DistributedTracingSupport` trait (on by default), every store call of a node-list
/// join is one client span, a child of the caller's span — across ZooKeeper's C completion
/// thread and etcd's event loop — with the store's attributes and never a stored value.
@Suite("Client tracing: the spans of a node-list join on each store", .serialized)
struct ClientTracingTests {
    /// The join under a root span; returns the root and the spans finished under it.
    static func joinTraced(_ backend: some NodeListBackend, key: String, tracer: InMemoryTracer, node: ClusterNode)
        async throws -> (root: FinishedInMemorySpan, children: [FinishedInMemorySpan])
    {
        let store = NodeListStore(backend: backend, key: key, probe: NoProbe())
        try await tracer.withSpan("test join", context: .topLevel) { _ in
            _ = try await store.join(node)
        }
        let spans = tracer.finishedSpans
        let root = try #require(spans.first { $0.operationName == "test join" })
        let children = spans.filter { $0.operationName != "test join" }
        #expect(!children.isEmpty, "the join made no client span")
        for span in children {
            #expect(span.kind == .client, "\(span.operationName)")
            #expect(span.traceID == root.traceID, "\(span.operationName): another trace")
            #expect(span.parentSpanID == root.spanID, "\(span.operationName): not a child of the caller's span")
            for (name, value) in Self.attributes(span) {
                #expect(!value.contains(node.name), "\(span.operationName): attribute \(name) carries the stored value")
            }
        }
        return (root, children)
    }

    static func attributes(_ span: FinishedInMemorySpan) -> [(String, String)] {
        var result: [(String, String)] = []
        span.attributes.forEach { name, attribute in result.append((name, text(attribute))) }
        return result
    }

    static func text(_ attribute: SpanAttribute) -> String {
        switch attribute {
        case .string(let value): value
        case .int64(let value): "\(value)"
        case .int32(let value): "\(value)"
        case .bool(let value): "\(value)"
        case .double(let value): "\(value)"
        case .stringConvertible(let value): value.description
        default: "\(attribute)"
        }
    }

    static func attribute(_ span: FinishedInMemorySpan, _ name: String) -> String? {
        attributes(span).first { $0.0 == name }?.1
    }

    static func node() -> ClusterNode {
        ClusterNode(name: "tracing-\(UUID().uuidString)", address: "127.0.0.1:9")
    }

    @Test("ZooKeeper: each operation a child span named zookeeper <op>, with path and server; a failure recorded",
          .enabled(if: TestStores.shouldRun(TestStores.zooKeeperConnect), "needs ZOOKEEPER_CONNECT"))
    func zooKeeper() async throws {
        let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
        let tracer = InMemoryTracer()
        var configuration = ZooKeeperClient.Configuration(connectString: connect)
        configuration.tracer = tracer
        let zk = try await ZooKeeperClient.connect(configuration)
        let key = "/autocluster-tracing/\(UUID().uuidString)"
        let (_, children) = try await Self.joinTraced(ZooKeeperNodeListBackend(client: zk), key: key, tracer: tracer, node: Self.node())
        #expect(children.allSatisfy { $0.operationName.hasPrefix("zookeeper ") })
        #expect(children.allSatisfy { Self.attribute($0, "db.system.name") == "zookeeper" })
        let port = connect.split(separator: ":").last.map(String.init)
        #expect(children.contains { Self.attribute($0, "server.address") == "127.0.0.1" && Self.attribute($0, "server.port") == port })
        #expect(children.contains { Self.attribute($0, "zookeeper.path") == key }, "\(children.map(\.operationName))")

        _ = tracer.popFinishedSpans()
        await #expect(throws: ZooKeeperError.self) { _ = try await zk.get(key + "/missing") }
        let failed = try #require(tracer.finishedSpans.first { $0.operationName == "zookeeper get" })
        #expect(failed.status?.code == .error)
        #expect(failed.errors.count == 1)
        #expect(Self.attribute(failed, "db.response.status_code") == ZooKeeperError.Code.noNode.description)
        await zk.close()
    }

    @Test("etcd: each unary call a child span named etcdserverpb.<Service>/<Method>, with gRPC, key and server attributes",
          .enabled(if: TestStores.shouldRun(TestStores.etcdEndpoints), "needs ETCD_ENDPOINTS"))
    func etcd() async throws {
        let endpoints = try TestStores.require(TestStores.etcdEndpoints, "ETCD_ENDPOINTS")
        let tracer = InMemoryTracer()
        var configuration = EtcdClient.Configuration(endpoints: endpoints)
        configuration.tracer = tracer
        let etcd = try await EtcdClient.connect(configuration)
        let key = "/autocluster-tracing/\(UUID().uuidString)"
        let (_, children) = try await Self.joinTraced(EtcdNodeListBackend(client: etcd), key: key, tracer: tracer, node: Self.node())
        let names = Set(children.map(\.operationName))
        #expect(names.isSubset(of: ["etcdserverpb.KV/Range", "etcdserverpb.KV/Txn"]), "\(names)")
        #expect(names.contains("etcdserverpb.KV/Txn"))
        for span in children {
            #expect(Self.attribute(span, "rpc.system") == "grpc")
            #expect(Self.attribute(span, "rpc.service") == "etcdserverpb.KV")
            #expect(Self.attribute(span, "rpc.grpc.status_code") == "0")
            #expect(Self.attribute(span, "etcd.key") == key)
            #expect(Self.attribute(span, "server.address") == "127.0.0.1")
            #expect(Self.attribute(span, "server.port") == endpoints[0].split(separator: ":").last.map(String.init))
        }

        _ = tracer.popFinishedSpans()
        await #expect(throws: EtcdError.self) { _ = try await etcd.revokeLease(EtcdLeaseID(0x7ead_beef_0000_0002)) }
        let failed = try #require(tracer.finishedSpans.first { $0.operationName == "etcdserverpb.Lease/LeaseRevoke" })
        #expect(failed.status?.code == .error)
        #expect(failed.errors.count == 1)
        _ = try await etcd.delete(key)
        await etcd.close()
    }

    @Test("Consul (against the stand-in): each request a child span named consul <operation>, with path, method and status")
    func consul() async throws {
        let standIn = try await ConsulStandIn.start()
        let tracer = InMemoryTracer()
        var configuration = ConsulClient.Configuration(address: standIn.address)
        configuration.tracer = tracer
        let consul = ConsulClient(configuration)
        let key = "autocluster-tracing/\(UUID().uuidString)"
        let (_, children) = try await Self.joinTraced(ConsulNodeListBackend(client: consul), key: key, tracer: tracer, node: Self.node())
        #expect(children.allSatisfy { $0.operationName.hasPrefix("consul ") })
        #expect(children.allSatisfy { Self.attribute($0, "db.system.name") == "consul" })
        #expect(children.allSatisfy { Self.attribute($0, "server.address") == "127.0.0.1" })
        // The first read of the missing key is a 404 (an answer, not an error); the create a 200.
        #expect(children.allSatisfy { ["200", "404"].contains(Self.attribute($0, "http.response.status_code")) })
        #expect(children.contains { Self.attribute($0, "http.response.status_code") == "200" })
        #expect(children.allSatisfy { $0.status?.code != .error })
        #expect(children.allSatisfy { Self.attribute($0, "consul.path")?.contains("?") == false })
        try await consul.shutdown()
        try await standIn.shutdown()
    }
}
