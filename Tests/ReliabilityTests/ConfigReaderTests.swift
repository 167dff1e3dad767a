import Configuration
import Consul
import ConsulStandIn
import Etcd
import Foundation
import StoreTestSupport
import Testing
import ZooKeeper

/// The `init(configReader:)` of each client's configuration: every documented key is read,
/// a malformed value is one clear error, and a reader-built configuration connects to the real
/// ZooKeeper and etcd (Consul against the stand-in).
@Suite("Configurations from swift-configuration's ConfigReader")
struct ConfigReaderTests {
    static func reader(_ values: [AbsoluteConfigKey: ConfigValue]) -> ConfigReader {
        ConfigReader(provider: InMemoryProvider(values: values))
    }

    @Test("etcd: every key sets its property")
    func etcdKeys() throws {
        TestSecrets.register(["config-reader-secret"])
        let configuration = try EtcdClient.Configuration(configReader: Self.reader([
            "etcd.endpoints": ConfigValue(.stringArray(["https://a:2379", "https://b:2379"]), isSecret: false),
            "etcd.tls.caFile": "/ca.pem", "etcd.tls.certificateFile": "/c.pem", "etcd.tls.keyFile": "/k.pem",
            "etcd.tls.serverName": "etcd.internal", "etcd.tls.verifyCertificates": false,
            "etcd.credentials.username": "svc", "etcd.credentials.password": "config-reader-secret",
            "etcd.timeouts.connect": 1.5, "etcd.timeouts.request": 7.0, "etcd.retry.maxAttempts": 3,
        ]).scoped(to: "etcd"))
        #expect(configuration.endpoints == ["https://a:2379", "https://b:2379"])
        #expect(configuration.tls?.caFile == "/ca.pem")
        #expect(configuration.tls?.certificateFile == "/c.pem")
        #expect(configuration.tls?.keyFile == "/k.pem")
        #expect(configuration.tls?.serverName == "etcd.internal")
        #expect(configuration.tls?.verifyCertificates == false)
        #expect(configuration.credentials?.username == "svc")
        #expect(configuration.credentials?.password == "config-reader-secret")
        #expect(configuration.timeouts.connect == .milliseconds(1500))
        #expect(configuration.timeouts.request == .seconds(7))
        #expect(configuration.retry.maxAttempts == 3)
    }

    @Test("etcd: no endpoints, a user without a password, or a zero time-out is an error")
    func etcdErrors() {
        #expect(throws: (any Error).self) { _ = try EtcdClient.Configuration(configReader: Self.reader([:])) }
        let noPassword = #expect(throws: EtcdError.self) {
            _ = try EtcdClient.Configuration(configReader: Self.reader([
                "endpoints": ConfigValue(.stringArray(["a:2379"]), isSecret: false), "credentials.username": "svc",
            ]))
        }
        #expect(noPassword?.code == .invalidArgument)
        #expect(noPassword?.message.contains("credentials.password") == true)
        let zero = #expect(throws: EtcdError.self) {
            _ = try EtcdClient.Configuration(configReader: Self.reader([
                "endpoints": ConfigValue(.stringArray(["a:2379"]), isSecret: false), "timeouts.request": 0.0,
            ]))
        }
        #expect(zero?.code == .invalidArgument)
        #expect(zero?.message.contains("timeouts.request") == true)
    }

    @Test("ZooKeeper: every key sets its property; a digest that is not user:password is .badArguments")
    func zooKeeperKeys() throws {
        let configuration = try ZooKeeperClient.Configuration(configReader: Self.reader([
            "connectString": "a:2181,b:2181/app", "sessionTimeout": 6.0, "connectTimeout": 2.0,
            "operationTimeout": 3.5, "digest": "svc:pass", "allowReadOnly": true,
        ]))
        #expect(configuration.connectString == "a:2181,b:2181/app")
        #expect(configuration.sessionTimeout == .seconds(6))
        #expect(configuration.connectTimeout == .seconds(2))
        #expect(configuration.operationTimeout == .milliseconds(3500))
        #expect(configuration.authentication.map(\.credentials) == ["svc:pass"])
        #expect(configuration.allowReadOnly)
        let bad = #expect(throws: ZooKeeperError.self) {
            _ = try ZooKeeperClient.Configuration(configReader: Self.reader(["connectString": "a:2181", "digest": "nocolon-secret"]))
        }
        #expect(bad?.code == .badArguments)
        #expect(bad.map { "\($0)" }?.contains("nocolon-secret") == false)
    }

    @Test("Consul: every key sets its property; maximumConnections 0 is .invalidArgument")
    func consulKeys() throws {
        TestSecrets.register(["config-reader-token"], as: .consulToken)
        let configuration = try ConsulClient.Configuration(configReader: Self.reader([
            "address": "https://consul:8501", "token": "config-reader-token", "datacenter": "dc2", "namespace": "team",
            "tls.caFile": "/ca.pem", "tls.serverName": "consul.internal", "timeouts.connect": 2.0,
            "timeouts.request": 9.0, "maximumConnections": 4,
        ]))
        #expect(configuration.address == "https://consul:8501")
        #expect(configuration.token == "config-reader-token")
        #expect(configuration.datacenter == "dc2")
        #expect(configuration.namespace == "team")
        #expect(configuration.tls?.caFile == "/ca.pem")
        #expect(configuration.tls?.serverName == "consul.internal")
        #expect(configuration.timeouts.connect == .seconds(2))
        #expect(configuration.timeouts.request == .seconds(9))
        #expect(configuration.maximumConnections == 4)
        let bad = #expect(throws: ConsulError.self) {
            _ = try ConsulClient.Configuration(configReader: Self.reader(["maximumConnections": 0]))
        }
        #expect(bad?.code == .invalidArgument)
    }

    @Test("reader-built configurations connect: real etcd and ZooKeeper",
          .enabled(if: TestStores.shouldRun(TestStores.etcdEndpoints) && TestStores.shouldRun(TestStores.zooKeeperConnect),
                   "needs ETCD_ENDPOINTS and ZOOKEEPER_CONNECT"))
    func realStores() async throws {
        let endpoints = try TestStores.require(TestStores.etcdEndpoints, "ETCD_ENDPOINTS")
        let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
        let reader = Self.reader([
            "etcd.endpoints": ConfigValue(.stringArray(endpoints), isSecret: false), "etcd.timeouts.connect": 2.0,
            "zookeeper.connectString": ConfigValue(.string(connect), isSecret: false), "zookeeper.sessionTimeout": 8.0,
        ])
        let etcd = try await EtcdClient.connect(.init(configReader: reader.scoped(to: "etcd")))
        _ = try await etcd.get("/autocluster-config-reader/\(UUID().uuidString)")
        await etcd.close()
        let zk = try await ZooKeeperClient.connect(.init(configReader: reader.scoped(to: "zookeeper")))
        #expect(try await zk.exists("/") != nil)
        await zk.close()
    }

    @Test("a reader-built Consul configuration works (against the stand-in)")
    func consulStandIn() async throws {
        let standIn = try await ConsulStandIn.start()
        let consul = ConsulClient(try .init(configReader: Self.reader(["address": ConfigValue(.string(standIn.address), isSecret: false)])))
        #expect(try await consul.kv.put("config-reader/k", value: Array("v".utf8)))
        #expect(try await consul.kv.get("config-reader/k")?.value == Array("v".utf8))
        try await consul.shutdown()
        try await standIn.shutdown()
    }
}
