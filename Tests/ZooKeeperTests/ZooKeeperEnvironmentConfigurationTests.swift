import Foundation
import StoreTestSupport
import Testing
import ZooKeeper

/// `ZooKeeperClient.Configuration.fromEnvironment`: parsed without a server, then used against
/// the real standalone server.
@Suite("ZooKeeperClient.Configuration.fromEnvironment (ZOOKEEPER_*)")
struct ZooKeeperEnvironmentConfigurationTests {
    @Test("nothing set: 127.0.0.1:2181, a 10 s session, no authentication")
    func defaults() throws {
        let configuration = try ZooKeeperClient.Configuration.fromEnvironment([:])
        #expect(configuration.connectString == "127.0.0.1:2181")
        #expect(configuration.sessionTimeout == .seconds(10))
        #expect(configuration.authentication.isEmpty)
    }

    @Test("every variable sets its property")
    func everyVariable() throws {
        let configuration = try ZooKeeperClient.Configuration.fromEnvironment([
            "ZOOKEEPER_CONNECT": "10.0.0.1:2181,10.0.0.2:2181/app", "ZOOKEEPER_SESSION_TIMEOUT_MS": "6000",
            "ZOOKEEPER_DIGEST": "svc:pa:ss",
        ])
        #expect(configuration.connectString == "10.0.0.1:2181,10.0.0.2:2181/app")
        #expect(configuration.sessionTimeout == .seconds(6))
        #expect(configuration.authentication.map(\.scheme) == ["digest"])
        #expect(configuration.authentication.map(\.credentials) == ["svc:pa:ss"])
    }

    @Test("a malformed variable is .badArguments naming it, and never the digest's password", arguments: [
        (["ZOOKEEPER_SESSION_TIMEOUT_MS": "10s"], "ZOOKEEPER_SESSION_TIMEOUT_MS"),
        (["ZOOKEEPER_SESSION_TIMEOUT_MS": "0"], "ZOOKEEPER_SESSION_TIMEOUT_MS"),
        (["ZOOKEEPER_DIGEST": "hunter2-no-colon"], "ZOOKEEPER_DIGEST"),
        (["ZOOKEEPER_DIGEST": ":hunter2-password"], "ZOOKEEPER_DIGEST"),
    ])
    func malformed(environment: [String: String], variable: String) {
        let error = #expect(throws: ZooKeeperError.self) { _ = try ZooKeeperClient.Configuration.fromEnvironment(environment) }
        #expect(error?.code == .badArguments)
        #expect(error.map { "\($0)" }?.contains(variable) == true, "\(String(describing: error))")
        #expect(error.map { "\($0)" }?.contains("hunter2") == false)
    }

    @Test("against the real server: ZOOKEEPER_CONNECT connects",
          .enabled(if: TestStores.shouldRun(TestStores.zooKeeperConnect), "needs ZOOKEEPER_CONNECT"))
    func connects() async throws {
        let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
        let zk = try await ZooKeeperClient.connect(.fromEnvironment(["ZOOKEEPER_CONNECT": connect, "ZOOKEEPER_SESSION_TIMEOUT_MS": "8000"]))
        #expect(try await zk.exists("/") != nil)
        await zk.close()
    }
}
