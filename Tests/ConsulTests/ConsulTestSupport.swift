import Consul
import ConsulStandIn
import Foundation
import StoreTestSupport
import Testing

/// Where a Consul test runs: the real Consul at CONSUL_HTTP_ADDR when it is set, otherwise
/// an in-process ConsulStandIn (a stand-in modelling Consul's documented API, not Consul).
struct ConsulTarget {
    let client: ConsulClient
    let standIn: ConsulStandIn?
    /// A unique key prefix, so suites can share one Consul.
    let prefix: String

    var isReal: Bool { standIn == nil }

    func key(_ name: String) -> String { "\(prefix)/\(name)" }

    /// Shortest session TTL the target accepts (Consul: 10s; the stand-in is started with 1s).
    var minimumTTL: Duration { isReal ? .seconds(10) : .seconds(1) }

    /// A TTL for sessions that must stay valid while a test works with them: far longer than any
    /// test step, even on a loaded machine or under the thread sanitizer.
    var comfortableTTL: Duration { .seconds(60) }

    /// A TTL short enough that a session keeper must renew several times during a test, yet long
    /// enough that one slow renewal on a loaded machine does not lose the session (it lives 2 × TTL).
    var keeperTTL: Duration { isReal ? .seconds(10) : .seconds(2) }

    static func make(
        options: ConsulStandIn.Options = ConsulStandIn.Options(),
        configure: (inout ConsulClient.Configuration) -> Void = { _ in }
    ) async throws -> ConsulTarget {
        let prefix = "autocluster-tests/\(UUID().uuidString.lowercased())"
        if TestStores.consulAddress != nil {
            var configuration = ConsulClient.Configuration.fromEnvironment()
            configure(&configuration)
            return ConsulTarget(client: ConsulClient(configuration), standIn: nil, prefix: prefix)
        }
        var options = options
        options.minimumSessionTTL = .seconds(1)
        let standIn = try await ConsulStandIn.start(options: options)
        var configuration = ConsulClient.Configuration(address: standIn.address)
        configure(&configuration)
        return ConsulTarget(client: ConsulClient(configuration), standIn: standIn, prefix: prefix)
    }

    func close() async throws {
        if isReal { _ = try? await client.kv.delete(prefix: prefix) }
        try await client.shutdown()
        try await standIn?.shutdown()
    }
}

/// Runs `body` against a fresh target and always closes it.
func withConsul(
    options: ConsulStandIn.Options = ConsulStandIn.Options(),
    configure: (inout ConsulClient.Configuration) -> Void = { _ in },
    _ body: (ConsulTarget) async throws -> Void
) async throws {
    let target = try await ConsulTarget.make(options: options, configure: configure)
    do {
        try await body(target)
    } catch {
        try? await target.close()
        throw error
    }
    try await target.close()
}

/// Expects `body` to throw a ConsulError with `code`, and returns it.
@discardableResult
func expectConsulError<T>(
    _ code: ConsulError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
) async -> ConsulError? {
    do {
        _ = try await body()
        Issue.record("expected ConsulError.\(code), but the call succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as ConsulError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected ConsulError.\(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A value behind a lock, for test tasks to share: the package's one lock type
/// (`TestMutex`, over `NIOLockedValueBox`) under the name the Consul tests use.
typealias TestBox<Value> = TestMutex<Value>
