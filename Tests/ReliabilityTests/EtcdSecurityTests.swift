@testable import Etcd
import Foundation
import StoreTestSupport
import Testing

/// etcd with TLS, mTLS and authentication, against the members `scripts/start-stores.sh --secure`
/// starts (and, for the host-name test, a TLS member of its own). Every client logs at `.trace` into a capture that must never contain a secret.
@Suite("etcd security: TLS, mTLS, auth", .timeLimit(.minutes(3)))
struct EtcdSecurityTests {
    static func configuration(_ endpoint: String, tls: EtcdClient.Configuration.TLS?, credentials: EtcdClient.Configuration.Credentials? = nil,
                              logs: LogCapture) -> EtcdClient.Configuration {
        var configuration = EtcdClient.Configuration(endpoints: [endpoint], tls: tls, credentials: credentials)
        configuration.timeouts = .init(connect: .seconds(3), request: .seconds(5))
        configuration.retry = .init(maxAttempts: 2)
        configuration.logger = logs.logger("reliability.etcd")
        return configuration
    }

    /// Round-trips one key through `client`.
    static func roundTrip(_ client: EtcdClient) async throws {
        let key = "/\(uniqueName("secure"))"
        try await client.put(key, value: Array("over tls".utf8))
        #expect(try await client.get(key)?.valueString == "over tls")
        #expect(try await client.delete(key) == 1)
        // The token this connection authenticated with (with credentials), for the secret scan.
        TestSecrets.register([client.currentAuthToken].compactMap { $0 }, as: .etcdToken)
    }

    /// Connecting must fail; returns the EtcdError (and records an issue if the call succeeded).
    static func refused(_ configuration: EtcdClient.Configuration) async -> (EtcdError?, Duration) {
        let (result, elapsed) = await timed { try await EtcdClient.connect(configuration) }
        switch result {
        case .success(let client):
            Issue.record("connect succeeded but should have been refused")
            await client.close()
            return (nil, elapsed)
        case .failure(let error as EtcdError):
            return (error, elapsed)
        case .failure(let error):
            Issue.record("expected EtcdError, got \(error)")
            return (nil, elapsed)
        }
    }

    @Test("TLS: the test CA is trusted and calls work", .enabled(if: Secure.tlsEnabled))
    func tlsWithTestCA() async throws {
        let logs = LogCapture()
        let endpoint = try TestStores.require(Secure.tlsEndpoint, "ETCD_TLS_ENDPOINT")
        let client = try await EtcdClient.connect(Self.configuration(endpoint, tls: .init(caFile: try Secure.file("ca.pem")), logs: logs))
        try await Self.roundTrip(client)
        // An etcds:// URL means TLS too.
        await client.close()
        let etcds = endpoint.replacingOccurrences(of: "https://", with: "etcds://")
        let second = try await EtcdClient.connect(Self.configuration(etcds, tls: .init(caFile: try Secure.file("ca.pem")), logs: logs))
        try await Self.roundTrip(second)
        await second.close()
    }

    @Test("TLS: a server whose CA is not trusted is refused by default with .tlsFailure", .enabled(if: Secure.tlsEnabled))
    func untrustedCertificate() async throws {
        let logs = LogCapture()
        let endpoint = try TestStores.require(Secure.tlsEndpoint, "ETCD_TLS_ENDPOINT")
        // Default TLS settings: the system roots, which do not include the test CA.
        for tls in [nil, EtcdClient.Configuration.TLS(), EtcdClient.Configuration.TLS(caFile: try Secure.file("untrusted-ca.pem"))] {
            let (error, elapsed) = await Self.refused(Self.configuration(endpoint, tls: tls, logs: logs))
            #expect(error?.code == .tlsFailure, "caFile \(tls?.caFile ?? "system roots"): \(String(describing: error))")
            #expect(error?.message.contains("127.0.0.1") == true, "the message names the endpoint")
            #expect(elapsed < .seconds(15))
        }
    }

    @Test("TLS: a certificate for another host name is refused by default; serverName selects the name to verify",
          .enabled(if: Secure.tlsEnabled && Faults.enabled))
    func wrongHostName() async throws {
        // The shared TLS member's certificate names 127.0.0.1, and NIOSSL accepts a certificate
        // whose IP SAN matches the connected address whatever the expected host name. So this test
        // starts its own TLS member with a certificate issued by the test CA for
        // "etcd.other.example" only.
        let logs = LogCapture()
        let directory = try TestServer.makeDirectory("etcd-hostname")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try issueCertificate(ca: try Secure.file("ca.pem"), caKey: try Secure.file("ca-key.pem"),
                             dnsName: "etcd.other.example", into: directory)
        let servers = TestServer.etcdCluster(count: 1, basePort: 28050, directory: directory, tls: (directory + "/other.pem", directory + "/other-key.pem"))
        defer { TestServer.stopAll(servers, removing: directory) }
        try servers[0].start()
        try await servers[0].waitHealthy()
        let endpoint = "https://127.0.0.1:28050"
        let ca = try Secure.file("ca.pem")

        for serverName in [nil, "localhost", "etcd.example.com"] {
            let (error, elapsed) = await Self.refused(Self.configuration(endpoint, tls: .init(caFile: ca, serverName: serverName), logs: logs))
            #expect(error?.code == .tlsFailure, "serverName \(serverName ?? "nil"): \(String(describing: error))")
            #expect(error?.message.contains("127.0.0.1:28050") == true)
            #expect(elapsed < .seconds(15))
        }
        let ok = try await EtcdClient.connect(Self.configuration(endpoint, tls: .init(caFile: ca, serverName: "etcd.other.example"), logs: logs))
        try await Self.roundTrip(ok)
        await ok.close()
    }

    @Test("mTLS: the client certificate is accepted; none or an untrusted one is refused", .enabled(if: Secure.mtlsEnabled))
    func mutualTLS() async throws {
        let logs = LogCapture()
        let endpoint = try TestStores.require(Secure.mtlsEndpoint, "ETCD_MTLS_ENDPOINT")
        let ca = try Secure.file("ca.pem")
        let good = EtcdClient.Configuration.TLS(caFile: ca, certificateFile: try Secure.file("client.pem"), keyFile: try Secure.file("client-key.pem"))
        let client = try await EtcdClient.connect(Self.configuration(endpoint, tls: good, logs: logs))
        try await Self.roundTrip(client)
        await client.close()

        let intruder = EtcdClient.Configuration.TLS(caFile: ca, certificateFile: try Secure.file("untrusted-client.pem"),
                                      keyFile: try Secure.file("untrusted-client-key.pem"))
        for tls in [EtcdClient.Configuration.TLS(caFile: ca), intruder] {
            // With TLS 1.3 the server's refusal may arrive only after the client's handshake
            // finished: then connect or the first call fails. Either way, nothing gets through.
            let (result, elapsed) = await timed { () -> EtcdClient in
                let client = try await EtcdClient.connect(Self.configuration(endpoint, tls: tls, logs: logs))
                do {
                    _ = try await client.get("/\(uniqueName("mtls"))")
                } catch {
                    await client.close()
                    throw error
                }
                return client
            }
            #expect(elapsed < .seconds(20))
            switch result {
            case .success(let client):
                Issue.record("a client without a trusted certificate was let in")
                await client.close()
            case .failure(let error as EtcdError):
                #expect([.tlsFailure, .connectionFailed, .unavailable].contains(error.code), "\(error)")
                #expect(error.message.contains("127.0.0.1"), "\(error)")
            case .failure(let error):
                Issue.record("expected EtcdError, got \(error)")
            }
        }
        logs.expectNoSecrets(try Secure.privateKeyMaterial("client-key.pem") + Secure.privateKeyMaterial("untrusted-client-key.pem"))
    }

    @Test("TLS files that do not exist are a clear .invalidArgument, not a crash", .enabled(if: Secure.tlsEnabled))
    func missingTLSFiles() async throws {
        let logs = LogCapture()
        let endpoint = try TestStores.require(Secure.tlsEndpoint, "ETCD_TLS_ENDPOINT")
        for tls in [EtcdClient.Configuration.TLS(caFile: "/nonexistent/ca.pem"),
                    EtcdClient.Configuration.TLS(caFile: try Secure.file("ca.pem"), certificateFile: "/nonexistent/c.pem", keyFile: "/nonexistent/k.pem"),
                    // A private key where a certificate belongs: not a certificate.
                    EtcdClient.Configuration.TLS(caFile: try Secure.file("client-key.pem"))] {
            let (error, _) = await Self.refused(Self.configuration(endpoint, tls: tls, logs: logs))
            #expect(error?.code == .invalidArgument, "\(String(describing: error))")
            if let error {
                let text = "\(error)"
                for line in try Secure.privateKeyMaterial("client-key.pem") {
                    #expect(!text.contains(line), "key material in an error")
                }
            }
        }
    }

    @Test("auth: the right password works; a wrong one or none is .unauthenticated; the password is never logged",
          .enabled(if: Secure.authEnabled))
    func authentication() async throws {
        let logs = LogCapture()
        let endpoint = try TestStores.require(Secure.authEndpoint, "ETCD_AUTH_ENDPOINT")
        let user = try TestStores.require(Secure.authUser, "ETCD_AUTH_USER")
        let password = try Secure.password()
        var errors: [String] = []

        let client = try await EtcdClient.connect(Self.configuration(endpoint, tls: nil, credentials: .init(username: user, password: password), logs: logs))
        try await Self.roundTrip(client)
        let token = try #require(client.currentAuthToken, "the client authenticated and holds etcd's token")
        await client.close()

        let wrongPassword = "wrong-\(UUID().uuidString)"
        let (wrong, elapsed) = await Self.refused(Self.configuration(endpoint, tls: nil, credentials: .init(username: user, password: wrongPassword), logs: logs))
        #expect(wrong?.code == .unauthenticated, "\(String(describing: wrong))")
        #expect(wrong?.message.contains("password") == true, "the message says what to check")
        #expect(elapsed < .seconds(15))
        if let wrong { errors.append("\(wrong)"); errors.append(String(reflecting: wrong)) }

        // No credentials: connecting works (no call made yet), the first call is refused.
        let anonymous = try await EtcdClient.connect(Self.configuration(endpoint, tls: nil, logs: logs))
        let denied = await expectError(EtcdError.self) { _ = try await anonymous.get("/\(uniqueName("anon"))") }
        #expect(denied?.code == .unauthenticated, "\(String(describing: denied))")
        #expect(denied?.message.contains("credentials") == true)
        await anonymous.close()

        let configuration = Self.configuration(endpoint, tls: nil, credentials: .init(username: user, password: password), logs: logs)
        errors += renderings(configuration) + renderings(configuration.credentials as Any)
        #expect(!logs.lines.isEmpty, "the clients logged at .trace")
        logs.expectNoSecrets([password, wrongPassword], alsoIn: errors)
        logs.expectNoSecrets([token], alsoIn: errors)
    }
}

/// Issues `other.pem` / `other-key.pem` in `directory`: a server certificate from the test CA
/// for `dnsName` only (no IP address).
func issueCertificate(ca: String, caKey: String, dnsName: String, into directory: String) throws {
    try "subjectAltName=DNS:\(dnsName)\nextendedKeyUsage=serverAuth\n".write(toFile: directory + "/other.ext", atomically: true, encoding: .utf8)
    try run("/usr/bin/openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/other-key.pem",
                                 "-out", directory + "/other.csr", "-subj", "/CN=\(dnsName)"])
    try run("/usr/bin/openssl", ["x509", "-req", "-in", directory + "/other.csr", "-CA", ca, "-CAkey", caKey,
                                 "-CAcreateserial", "-CAserial", directory + "/ca.srl", "-out", directory + "/other.pem",
                                 "-days", "2", "-extfile", directory + "/other.ext"])
}

/// Runs a short-lived tool (output discarded) and throws unless it exits 0.
func run(_ executable: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestServerError("\(executable) \(arguments.first ?? "") exited with \(process.terminationStatus)")
    }
}
