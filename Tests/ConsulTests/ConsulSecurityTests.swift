import Consul
import ConsulStandIn
import Foundation
import NIOCore
import NIOSSL
import StoreTestSupport
import Testing

@Suite("Consul ACL tokens")
struct ConsulACLTests {
    static let token = "9f1c1a2e-acl-secret-token"

    @Test func requestsWithoutTheTokenAreDeniedWithAClearError() async throws {
        TestSecrets.register([Self.token], as: .consulToken)
        var options = ConsulStandIn.Options()
        options.aclToken = Self.token
        let standIn = try await ConsulStandIn.start(options: options)

        let anonymous = ConsulClient(.init(address: standIn.address))
        let denied = await expectConsulError(.permissionDenied) {
            try await anonymous.kv.put("acl/k", value: bytes("v"))
        }
        #expect(denied?.httpStatus == 403)
        #expect(denied?.message.contains("ACL token missing or lacks permission") == true)
        #expect(denied?.path == "/v1/kv/acl/k")
        await expectConsulError(.permissionDenied) { try await anonymous.kv.get("acl/k") }
        try await anonymous.shutdown()

        let wrong = ConsulClient(.init(address: standIn.address, token: "not-the-token"))
        let wrongError = await expectConsulError(.permissionDenied) { try await wrong.kv.get("acl/k") }
        #expect(wrongError.map { "\($0)" }?.contains("not-the-token") == false)
        try await wrong.shutdown()

        let authorized = ConsulClient(.init(address: standIn.address, token: Self.token))
        #expect(try await authorized.kv.put("acl/k", value: bytes("v")))
        #expect(try await authorized.kv.get("acl/k")?.value == bytes("v"))
        try await authorized.shutdown()

        // The token travels only in the X-Consul-Token header, never in the URL.
        let sent = standIn.recordedRequests.filter { $0.header("X-Consul-Token") == Self.token }
        #expect(sent.count == 2)
        #expect(standIn.recordedRequests.allSatisfy { !$0.uri.contains(Self.token) })
        try await standIn.shutdown()
    }

    @Test func tokenNeverAppearsInErrorsOrDescriptions() async throws {
        // No server: the transport error must not echo the configuration's token.
        let client = ConsulClient(.init(address: "http://127.0.0.1:1", token: Self.token))
        let error = await expectConsulError(.unreachable) { try await client.kv.get("k") }
        #expect(error.map { "\($0)" }?.contains(Self.token) == false)
        #expect(error.map { String(reflecting: $0) }?.contains(Self.token) == false)
        try await client.shutdown()
    }

    /// Only meaningful against a real Consul with ACLs enabled; CI has none, so there it is
    /// skipped — visibly, and on the allow-list of `scripts/test.sh`.
    @Test(.enabled(if: TestStores.consulAddress != nil && TestStores.environment("CONSUL_HTTP_TOKEN") != nil,
                   "needs a real Consul with ACLs (CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN)"))
    func aBogusTokenIsDeniedByARealConsulWithACLs() async throws {
        var configuration = ConsulClient.Configuration.fromEnvironment()
        configuration.token = UUID().uuidString.lowercased()
        let client = ConsulClient(configuration)
        let error = await expectConsulError(.permissionDenied) { try await client.kv.get("autocluster-tests/acl") }
        #expect(error?.httpStatus == 403)
        try await client.shutdown()
    }
}

@Suite("Consul configuration from the environment")
struct ConsulEnvironmentTests {
    @Test func readsTheVariablesConsulsToolsRead() {
        let configuration = ConsulClient.Configuration.fromEnvironment([
            "CONSUL_HTTP_ADDR": "consul.internal:8501", "CONSUL_HTTP_TOKEN": "tok", "CONSUL_HTTP_SSL": "true",
            "CONSUL_CACERT": "/etc/consul/ca.pem", "CONSUL_CLIENT_CERT": "/etc/consul/cli.pem",
            "CONSUL_CLIENT_KEY": "/etc/consul/cli-key.pem", "CONSUL_TLS_SERVER_NAME": "server.dc1.consul",
            "CONSUL_DATACENTER": "dc2", "CONSUL_NAMESPACE": "team",
        ])
        #expect(configuration.address == "https://consul.internal:8501")
        #expect(configuration.token == "tok")
        #expect(configuration.datacenter == "dc2")
        #expect(configuration.namespace == "team")
        #expect(configuration.tls?.caFile == "/etc/consul/ca.pem")
        #expect(configuration.tls?.clientCertificateFile == "/etc/consul/cli.pem")
        #expect(configuration.tls?.clientKeyFile == "/etc/consul/cli-key.pem")
        #expect(configuration.tls?.serverName == "server.dc1.consul")
        #expect(configuration.tls?.insecureSkipVerify == false)
    }

    @Test func defaultsWithoutVariables() {
        let configuration = ConsulClient.Configuration.fromEnvironment([:])
        #expect(configuration.address == "127.0.0.1:8500")
        #expect(configuration.token == nil)
        #expect(configuration.tls == nil)
        #expect(configuration.defaultConsistency == .default)
    }

    @Test func httpsAddressAloneTurnsOnVerifiedTLS() {
        let configuration = ConsulClient.Configuration.fromEnvironment([
            "CONSUL_HTTP_ADDR": "https://10.0.0.1:8501", "CONSUL_HTTP_SSL_VERIFY": "false",
        ])
        #expect(configuration.address == "https://10.0.0.1:8501")
        #expect(configuration.tls?.insecureSkipVerify == true)
    }

    @Test func datacenterAndNamespaceAreSentAsQueryParameters() async throws {
        let standIn = try await ConsulStandIn.start()
        var configuration = ConsulClient.Configuration(address: standIn.address, datacenter: "dc9")
        configuration.namespace = "team a"
        let client = ConsulClient(configuration)
        _ = try await client.kv.get("dc/k")
        #expect(standIn.recordedRequests.last?.uri == "/v1/kv/dc/k?dc=dc9&ns=team%20a")
        try await client.shutdown()
        try await standIn.shutdown()
    }
}

@Suite("Consul over TLS (stand-in behind NIOSSL)")
struct ConsulTLSTests {
    /// Writes the fixtures to a temporary directory, as CONSUL_CACERT & co. would name them.
    struct Files {
        let directory: URL
        var ca: String { directory.appendingPathComponent("ca.pem").path }
        var otherCA: String { directory.appendingPathComponent("other-ca.pem").path }
        var client: String { directory.appendingPathComponent("client.pem").path }
        var clientKey: String { directory.appendingPathComponent("client-key.pem").path }

        init() throws {
            directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("consul-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try TLSFixtures.ca.write(toFile: ca, atomically: true, encoding: .utf8)
            try TLSFixtures.otherCA.write(toFile: otherCA, atomically: true, encoding: .utf8)
            try TLSFixtures.client.write(toFile: client, atomically: true, encoding: .utf8)
            try TLSFixtures.clientKey.write(toFile: clientKey, atomically: true, encoding: .utf8)
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    /// Starts a stand-in behind TLS. Its certificate names 127.0.0.1 (NIOSSL then accepts it for any
    /// expected name, matching the IP against the peer), or with `namedOnly` only DNS:server.dc1.consul.
    static func startTLSStandIn(requireClientCertificate: Bool = false, namedOnly: Bool = false) async throws
        -> ConsulStandIn
    {
        let certificate = namedOnly ? TLSFixtures.namedServer : TLSFixtures.server
        let key = namedOnly ? TLSFixtures.namedServerKey : TLSFixtures.serverKey
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem)))
        if requireClientCertificate {
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(TLSFixtures.ca.utf8)))
        }
        let context = try NIOSSLContext(configuration: tls)
        var options = ConsulStandIn.Options()
        options.tlsHandler = { NIOSSLServerHandler(context: context) }
        return try await ConsulStandIn.start(options: options)
    }

    @Test func verifiesTheServerAgainstACAFile() async throws {
        let files = try Files()
        defer { files.remove() }
        let standIn = try await Self.startTLSStandIn()
        #expect(standIn.address.hasPrefix("https://127.0.0.1:"))
        var configuration = ConsulClient.Configuration(address: standIn.address)
        configuration.tls = .init(caFile: files.ca)
        let client = ConsulClient(configuration)
        #expect(try await client.kv.put("tls/k", value: bytes("secure")))
        #expect(try await client.kv.get("tls/k")?.value == bytes("secure"))
        try await client.shutdown()
        try await standIn.shutdown()
    }

    @Test func verifiesTheServerAgainstCAPEMText() async throws {
        let standIn = try await Self.startTLSStandIn()
        var configuration = ConsulClient.Configuration(address: standIn.address)
        var tls = ConsulClient.Configuration.TLS()
        tls.caPEM = TLSFixtures.ca
        configuration.tls = tls
        let client = ConsulClient(configuration)
        #expect(try await client.kv.put("tls/pem", value: bytes("x")))
        try await client.shutdown()
        try await standIn.shutdown()
    }

    @Test func anUntrustedServerIsRefusedWithATLSError() async throws {
        let files = try Files()
        defer { files.remove() }
        let standIn = try await Self.startTLSStandIn()
        var configuration = ConsulClient.Configuration(address: standIn.address)
        configuration.tls = .init(caFile: files.otherCA)
        configuration.timeouts.request = .seconds(5)
        let client = ConsulClient(configuration)
        let error = await expectConsulError(.tls) { try await client.kv.get("tls/k") }
        #expect(error?.message.contains("CONSUL_CACERT") == true)
        try await client.shutdown()

        // Verification can be turned off explicitly (tests only), and then the same server is accepted.
        configuration.tls?.insecureSkipVerify = true
        let insecure = ConsulClient(configuration)
        #expect(try await insecure.kv.get("tls/k") == nil)
        try await insecure.shutdown()
        try await standIn.shutdown()
    }

    @Test func serverNameIsVerifiedInsteadOfTheAddressHost() async throws {
        let files = try Files()
        defer { files.remove() }
        let standIn = try await Self.startTLSStandIn(namedOnly: true)
        var configuration = ConsulClient.Configuration(address: standIn.address)
        configuration.timeouts.request = .seconds(5)
        // The certificate does not name 127.0.0.1: verification against the address's host fails …
        configuration.tls = .init(caFile: files.ca)
        let byAddress = ConsulClient(configuration)
        await expectConsulError(.tls) { try await byAddress.kv.get("tls/sni") }
        try await byAddress.shutdown()

        // … against the configured server name it succeeds …
        configuration.tls = .init(caFile: files.ca, serverName: "server.dc1.consul")
        let client = ConsulClient(configuration)
        #expect(try await client.kv.put("tls/sni", value: bytes("x")))
        try await client.shutdown()

        // … and against another name it fails.
        configuration.tls?.serverName = "not-the-server.example"
        let wrong = ConsulClient(configuration)
        await expectConsulError(.tls) { try await wrong.kv.get("tls/sni") }
        try await wrong.shutdown()
        try await standIn.shutdown()
    }

    @Test func clientCertificateForAgentsThatVerifyIncoming() async throws {
        let files = try Files()
        defer { files.remove() }
        let standIn = try await Self.startTLSStandIn(requireClientCertificate: true)
        var configuration = ConsulClient.Configuration(address: standIn.address)
        configuration.tls = .init(caFile: files.ca)
        configuration.timeouts.request = .seconds(5)
        let withoutCertificate = ConsulClient(configuration)
        do {
            _ = try await withoutCertificate.kv.get("tls/mutual")
            Issue.record("a server requiring client certificates accepted a client without one")
        } catch let error as ConsulError {
            #expect([ConsulError.Code.tls, .unreachable].contains(error.code), "\(error)")
        }
        try await withoutCertificate.shutdown()

        configuration.tls = .init(caFile: files.ca, clientCertificateFile: files.client, clientKeyFile: files.clientKey)
        let withCertificate = ConsulClient(configuration)
        #expect(try await withCertificate.kv.put("tls/mutual", value: bytes("m")))
        try await withCertificate.shutdown()
        try await standIn.shutdown()
    }

    @Test func theEnvironmentVariablesConfigureTLS() async throws {
        let files = try Files()
        defer { files.remove() }
        let standIn = try await Self.startTLSStandIn(requireClientCertificate: true)
        let hostPort = standIn.address.replacingOccurrences(of: "https://", with: "")
        let configuration = ConsulClient.Configuration.fromEnvironment([
            "CONSUL_HTTP_ADDR": hostPort, "CONSUL_HTTP_SSL": "true", "CONSUL_CACERT": files.ca,
            "CONSUL_CLIENT_CERT": files.client, "CONSUL_CLIENT_KEY": files.clientKey,
        ])
        let client = ConsulClient(configuration)
        #expect(try await client.kv.put("tls/env", value: bytes("e")))
        try await client.shutdown()
        try await standIn.shutdown()
    }

    @Test func unreadableCertificateFilesAreAClearError() async throws {
        var configuration = ConsulClient.Configuration(address: "https://127.0.0.1:1")
        configuration.tls = .init(caFile: "/nonexistent/ca.pem")
        let client = ConsulClient(configuration)
        let error = await expectConsulError(.tls) { try await client.kv.get("k") }
        #expect(error?.message.contains("/nonexistent/ca.pem") == true)
        try await client.shutdown()

        configuration.tls = .init(clientCertificateFile: "/tmp/only-cert.pem")
        let halfConfigured = ConsulClient(configuration)
        await expectConsulError(.invalidArgument) { try await halfConfigured.kv.get("k") }
        try await halfConfigured.shutdown()
    }
}
