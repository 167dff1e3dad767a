import Consul
import ConsulStandIn
import Foundation
import StoreTestSupport
import Testing

/// Consul ACL tokens: required and sent, a 403 reported clearly, and the token in no log line
/// (captured at `.trace`) and no error. Against the in-test Consul stand-in with ACLs on.
@Suite("Consul security: the ACL token is sent, required and never logged", .timeLimit(.minutes(1)))
struct ConsulSecurityLogTests {
    @Test("with ACLs on: no token or a wrong one → .permissionDenied (403); the right one works; no token in logs")
    func tokenFlows() async throws {
        let token = "secret-\(UUID().uuidString.lowercased())"
        let wrongToken = "wrong-\(UUID().uuidString.lowercased())"
        TestSecrets.register([token, wrongToken], as: .consulToken)
        var options = ConsulStandIn.Options()
        options.aclToken = token
        let standIn = try await ConsulStandIn.start(options: options)
        let logs = LogCapture()
        var errorTexts: [String] = []

        func client(_ token: String?) -> ConsulClient {
            var configuration = ConsulClient.Configuration(address: standIn.address, token: token)
            configuration.timeouts = .init(connect: .seconds(2), request: .seconds(5))
            configuration.logger = logs.logger("reliability.consul")
            return ConsulClient(configuration)
        }

        for presented in [nil, wrongToken] {
            let consul = client(presented)
            for call in [
                { _ = try await consul.kv.get("acl/k") },
                { _ = try await consul.kv.put("acl/k", value: Array("v".utf8)) },
                { _ = try await consul.kv.delete("acl/k") },
            ] as [() async throws -> Void] {
                let error = await expectError(ConsulError.self, call)
                #expect(error?.code == .permissionDenied, "\(String(describing: error))")
                #expect(error?.httpStatus == 403)
                #expect(error?.message.lowercased().contains("token") == true, "the message says to check the token")
                if let error { errorTexts += ["\(error)", String(reflecting: error)] }
            }
            try await consul.shutdown()
        }

        let authorized = client(token)
        #expect(try await authorized.kv.put("acl/k", value: Array("v".utf8)))
        #expect(try await authorized.kv.get("acl/k")?.value == Array("v".utf8))
        try await authorized.shutdown()

        #expect(standIn.recordedRequests.contains { $0.header("X-Consul-Token") == token }, "the token was sent")
        #expect(standIn.recordedRequests.allSatisfy { !$0.uri.contains(token) }, "never in a URL")
        #expect(!logs.lines.isEmpty, "the clients logged at .trace")
        logs.expectNoSecrets([token, wrongToken], alsoIn: errorTexts + renderings(authorized.configuration))
        try await standIn.shutdown()
    }
}
