import Etcd
import Foundation
import StoreTestSupport
import Testing

/// TLS and mTLS against etcd members the test starts with certificates made by
/// scripts/make-store-certs.sh (openssl).
@Suite("EtcdClient over TLS and mTLS", .serialized, .enabled(if: EtcdTest.enabled))
struct EtcdTLSTests {
    static func makeCertificates() throws -> String {
        let dir = URL(fileURLWithPath: TestStores.storesDirectory ?? NSTemporaryDirectory())
            .appendingPathComponent("certs-\(UUID().uuidString)").path
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/make-store-certs.sh")
        let process = Process()
        process.executableURL = script
        process.arguments = [dir]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "scripts/make-store-certs.sh failed")
        return dir
    }

    static func configuration(_ endpoint: String, _ tls: EtcdClient.Configuration.TLS?) -> EtcdClient.Configuration {
        var configuration = EtcdClient.Configuration(endpoints: [endpoint], tls: tls)
        configuration.timeouts = .init(connect: .seconds(3), request: .seconds(5))
        configuration.retry.maxAttempts = 2
        return configuration
    }

    @Test("TLS: the CA is verified and the host name checked; a wrong CA or name is refused; plain text to a TLS port fails fast")
    func tls() async throws {
        let certs = try Self.makeCertificates()
        defer { try? FileManager.default.removeItem(atPath: certs) }
        // The server certificate names only DNS:localhost, not the address 127.0.0.1.
        let server = try await PrivateEtcd(count: 1, basePort: 29440, extraArguments: [
            "--cert-file", "\(certs)/server-dns.pem", "--key-file", "\(certs)/server-dns-key.pem",
        ], scheme: "https", curlTLSArguments: ["--cacert", "\(certs)/ca.pem"])
        defer { server.stop() }
        let endpoint = "etcds://localhost:29440"

        let etcd = try await EtcdClient.connect(Self.configuration(endpoint, .init(caFile: "\(certs)/ca.pem")))
        try await etcd.put("tls/k", value: "secret-channel".bytes)
        #expect(try await etcd.get("tls/k")?.value == "secret-channel".bytes)
        await etcd.close()

        // https:// with Configuration.tls and serverName "localhost" (a DNS SAN of the certificate).
        let byName = try await EtcdClient.connect(Self.configuration("https://127.0.0.1:29440",
                                                                     .init(caFile: "\(certs)/ca.pem", serverName: "localhost")))
        #expect(try await byName.get("tls/k")?.value == "secret-channel".bytes)
        await byName.close()

        let wrongCA = await #expect(throws: EtcdError.self) {
            _ = try await EtcdClient.connect(Self.configuration(endpoint, .init(caFile: "\(certs)/untrusted-ca.pem")))
        }
        #expect(wrongCA?.code == .tlsFailure)
        #expect(wrongCA?.message.contains("Configuration.tls") == true)

        let wrongName = await #expect(throws: EtcdError.self) {
            _ = try await EtcdClient.connect(Self.configuration(endpoint, .init(caFile: "\(certs)/ca.pem", serverName: "wrong.example")))
        }
        #expect(wrongName?.code == .tlsFailure)
        // An address the certificate does not name is refused too.
        let byAddress = await #expect(throws: EtcdError.self) {
            _ = try await EtcdClient.connect(Self.configuration("etcds://127.0.0.1:29440", .init(caFile: "\(certs)/ca.pem")))
        }
        #expect(byAddress?.code == .tlsFailure)

        let start = ContinuousClock.now
        let plain = await #expect(throws: EtcdError.self) {
            _ = try await EtcdClient.connect(Self.configuration("http://127.0.0.1:29440", nil))
        }
        #expect(plain != nil)
        #expect(ContinuousClock.now - start < .seconds(15))
    }

    @Test("mTLS: a client certificate signed by the CA is accepted; none is refused")
    func mutualTLS() async throws {
        let certs = try Self.makeCertificates()
        defer { try? FileManager.default.removeItem(atPath: certs) }
        let server = try await PrivateEtcd(count: 1, basePort: 29450, extraArguments: [
            "--cert-file", "\(certs)/server.pem", "--key-file", "\(certs)/server-key.pem",
            "--client-cert-auth", "--trusted-ca-file", "\(certs)/ca.pem",
        ], scheme: "https", curlTLSArguments: ["--cacert", "\(certs)/ca.pem", "--cert", "\(certs)/client.pem",
                                               "--key", "\(certs)/client-key.pem"])
        defer { server.stop() }
        let endpoint = "etcds://127.0.0.1:29450"

        let etcd = try await EtcdClient.connect(Self.configuration(endpoint, .init(
            caFile: "\(certs)/ca.pem", certificateFile: "\(certs)/client.pem", keyFile: "\(certs)/client-key.pem")))
        try await etcd.put("mtls/k", value: [42])
        #expect(try await etcd.get("mtls/k")?.value == [42])
        await etcd.close()

        let anonymous = await #expect(throws: EtcdError.self) {
            let client = try await EtcdClient.connect(Self.configuration(endpoint, .init(caFile: "\(certs)/ca.pem")))
            defer { Task { await client.close() } }
            _ = try await client.get("mtls/k")
        }
        #expect(anonymous?.code == .tlsFailure || anonymous?.code == .connectionFailed || anonymous?.code == .unavailable)
    }

    @Test("unreadable TLS files are reported as .invalidArgument naming them")
    func badFiles() async throws {
        let error = await #expect(throws: EtcdError.self) {
            _ = try await EtcdClient.connect(.init(endpoints: ["etcds://127.0.0.1:29459"], tls: .init(caFile: "/nonexistent/ca.pem")))
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("/nonexistent/ca.pem") == true)
    }
}
