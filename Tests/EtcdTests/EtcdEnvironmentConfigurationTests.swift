@testable import Etcd
import Foundation
import StoreTestSupport
import Testing

/// `EtcdClient.Configuration.fromEnvironment`: etcdctl's variables, parsed without a server and
/// then used against the real mTLS and auth members of `start-stores.sh --secure`.
@Suite("EtcdClient.Configuration.fromEnvironment (ETCDCTL_*)")
struct EtcdEnvironmentConfigurationTests {
    @Test("nothing set: etcdctl's default endpoint, plain text, no credentials, the default timeouts")
    func defaults() throws {
        let configuration = try EtcdClient.Configuration.fromEnvironment([:])
        #expect(configuration.endpoints == ["127.0.0.1:2379"])
        #expect(configuration.tls == nil)
        #expect(configuration.credentials == nil)
        #expect(configuration.timeouts.connect == .seconds(3))
        #expect(configuration.timeouts.request == .seconds(5))
    }

    @Test("every variable sets its property; empty ones count as unset")
    func everyVariable() throws {
        let configuration = try EtcdClient.Configuration.fromEnvironment([
            "ETCDCTL_ENDPOINTS": "https://a:2379, b:2379,,", "ETCDCTL_CACERT": "/ca.pem", "ETCDCTL_CERT": "/c.pem",
            "ETCDCTL_KEY": "/k.pem", "ETCDCTL_INSECURE_SKIP_TLS_VERIFY": "true", "ETCDCTL_USER": "alice",
            "ETCDCTL_PASSWORD": "p:w", "ETCDCTL_DIAL_TIMEOUT": "1m30s", "ETCDCTL_COMMAND_TIMEOUT": "1.5s",
        ])
        #expect(configuration.endpoints == ["https://a:2379", "b:2379"])
        #expect(configuration.tls?.caFile == "/ca.pem")
        #expect(configuration.tls?.certificateFile == "/c.pem")
        #expect(configuration.tls?.keyFile == "/k.pem")
        #expect(configuration.tls?.verifyCertificates == false)
        #expect(configuration.credentials?.username == "alice")
        #expect(configuration.credentials?.password == "p:w")
        #expect(configuration.timeouts.connect == .seconds(90))
        #expect(configuration.timeouts.request == .milliseconds(1500))

        let userColonPassword = try EtcdClient.Configuration.fromEnvironment(["ETCDCTL_USER": "bob:s3:cret", "ETCDCTL_CACERT": ""])
        #expect(userColonPassword.credentials?.username == "bob")
        #expect(userColonPassword.credentials?.password == "s3:cret")
        #expect(userColonPassword.tls == nil)
    }

    @Test("a malformed variable is .invalidArgument naming it, and never a password", arguments: [
        (["ETCDCTL_ENDPOINTS": " , "], "ETCDCTL_ENDPOINTS"),
        (["ETCDCTL_DIAL_TIMEOUT": "5"], "ETCDCTL_DIAL_TIMEOUT"),
        (["ETCDCTL_COMMAND_TIMEOUT": "2 s"], "ETCDCTL_COMMAND_TIMEOUT"),
        (["ETCDCTL_COMMAND_TIMEOUT": "0s"], "ETCDCTL_COMMAND_TIMEOUT"),
        (["ETCDCTL_INSECURE_SKIP_TLS_VERIFY": "maybe"], "ETCDCTL_INSECURE_SKIP_TLS_VERIFY"),
        (["ETCDCTL_CERT": "/c.pem"], "ETCDCTL_KEY"),
        (["ETCDCTL_USER": "carol"], "ETCDCTL_USER"),
        (["ETCDCTL_PASSWORD": "hunter2-password"], "ETCDCTL_PASSWORD"),
        (["ETCDCTL_USER": ":hunter2-password"], "ETCDCTL_USER"),
    ])
    func malformed(environment: [String: String], variable: String) {
        let error = #expect(throws: EtcdError.self) { _ = try EtcdClient.Configuration.fromEnvironment(environment) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(variable) == true, "\(String(describing: error))")
        #expect(error.map { "\($0)" }?.contains("hunter2") == false)
        #expect(error.map { "\($0)" }?.contains("\n") == false)
    }

    @Test("against the real mTLS member: ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_CERT and ETCDCTL_KEY connect",
          .enabled(if: TestStores.shouldRun(TestStores.environment("ETCD_MTLS_ENDPOINT")), "needs ETCD_MTLS_ENDPOINT (start-stores.sh --secure)"))
    func mutualTLS() async throws {
        let endpoint = try TestStores.require(TestStores.environment("ETCD_MTLS_ENDPOINT"), "ETCD_MTLS_ENDPOINT")
        let tls = try TestStores.require(TestStores.environment("AUTOCLUSTER_TLS_DIR"), "AUTOCLUSTER_TLS_DIR")
        let configuration = try EtcdClient.Configuration.fromEnvironment([
            "ETCDCTL_ENDPOINTS": endpoint, "ETCDCTL_CACERT": "\(tls)/ca.pem",
            "ETCDCTL_CERT": "\(tls)/client.pem", "ETCDCTL_KEY": "\(tls)/client-key.pem",
        ])
        let etcd = try await EtcdClient.connect(configuration)
        let key = "/autocluster-env/\(UUID().uuidString)"
        _ = try await etcd.put(key, value: Array("v".utf8))
        #expect(try await etcd.get(key)?.value == Array("v".utf8))
        _ = try await etcd.delete(key)
        await etcd.close()
    }

    @Test("against the real auth member: ETCDCTL_USER and ETCDCTL_PASSWORD authenticate",
          .enabled(if: TestStores.shouldRun(TestStores.environment("ETCD_AUTH_ENDPOINT")), "needs ETCD_AUTH_ENDPOINT (start-stores.sh --secure)"))
    func authentication() async throws {
        let endpoint = try TestStores.require(TestStores.environment("ETCD_AUTH_ENDPOINT"), "ETCD_AUTH_ENDPOINT")
        let passwordFile = try TestStores.require(TestStores.environment("ETCD_AUTH_PASSWORD_FILE"), "ETCD_AUTH_PASSWORD_FILE")
        let password = try String(contentsOfFile: passwordFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let user = TestStores.environment("ETCD_AUTH_USER") ?? "root"
        let configuration = try EtcdClient.Configuration.fromEnvironment([
            "ETCDCTL_ENDPOINTS": endpoint, "ETCDCTL_USER": user, "ETCDCTL_PASSWORD": password,
        ])
        let etcd = try await EtcdClient.connect(configuration)
        let key = "/autocluster-env/\(UUID().uuidString)"
        _ = try await etcd.put(key, value: Array("v".utf8))
        #expect(try await etcd.get(key)?.value == Array("v".utf8))
        _ = try await etcd.delete(key)
        if let token = etcd.currentAuthToken { TestSecrets.register([token], as: .etcdToken) }
        await etcd.close()
    }
}
