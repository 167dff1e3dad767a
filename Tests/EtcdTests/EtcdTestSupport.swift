import Etcd
import Foundation
import StoreTestSupport
import Testing

/// Shared helpers of the etcd integration tests.
enum EtcdTest {
    /// Whether tests that need the single-member etcd run (ETCD_ENDPOINTS set, or stores required).
    static var enabled: Bool { TestStores.shouldRun(TestStores.etcdEndpoints) }
    /// Whether tests that need the 3-member cluster run.
    static var clusterEnabled: Bool { TestStores.shouldRun(TestStores.etcdClusterEndpoints) }

    static func endpoints() throws -> [String] {
        try TestStores.require(TestStores.etcdEndpoints, "ETCD_ENDPOINTS")
    }

    static func configuration() throws -> EtcdClient.Configuration {
        var configuration = EtcdClient.Configuration(endpoints: try endpoints())
        configuration.timeouts = .init(connect: .seconds(3), request: .seconds(10))
        return configuration
    }

    /// A connected client to the single-member etcd; closed by `body`'s end.
    static func withClient<R>(_ body: (EtcdClient) async throws -> R) async throws -> R {
        let client = try await EtcdClient.connect(try configuration())
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    /// A key prefix no other test uses.
    static func prefix(_ name: String = #function) -> String {
        "/autocluster-tests/etcd/\(name.prefix(while: { $0 != "(" }))/\(UUID().uuidString)/"
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

import Logging
import NIOConcurrencyHelpers

/// A swift-log handler that keeps every message, to check what the client did.
struct CapturingLogHandler: LogHandler {
    final class Store: Sendable {
        let messages = NIOLockedValueBox<[String]>([])
        var all: [String] { messages.withLockedValue { $0 } }
    }
    let store: Store
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        // The error passed with swift-log's error: parameter is part of the line.
        let error = event.error.map { " error=\($0)" } ?? ""
        store.messages.withLockedValue { $0.append("\(event.message) \(event.metadata ?? [:])\(error)") }
        TestLogCapture.record(TestLogCapture.line(event, label: "etcd-test", metadata: metadata))  // the whole-run secret scan
    }
}
