import Foundation
import StoreTestSupport
import Testing
import ZooKeeper

/// Shared helpers of the ZooKeeper integration tests.
enum ZK {
    /// Whether tests against the standalone ZooKeeper (`ZOOKEEPER_CONNECT`) run.
    static var enabled: Bool { TestStores.shouldRun(TestStores.zooKeeperConnect) }

    /// A client connected to the standalone ZooKeeper.
    static func client(sessionTimeout: Duration = .seconds(10),
                       configure: (inout ZooKeeperClient.Configuration) -> Void = { _ in }) async throws -> ZooKeeperClient {
        let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
        var configuration = ZooKeeperClient.Configuration(connectString: connect, sessionTimeout: sessionTimeout)
        configuration.operationTimeout = .seconds(10)
        configure(&configuration)
        return try await ZooKeeperClient.connect(configuration)
    }

    /// A fresh, unique persistent parent path for one test, created empty.
    static func root(_ zk: ZooKeeperClient, _ name: String = #function) async throws -> String {
        let clean = name.filter { $0.isLetter || $0.isNumber }
        let path = "/zk-test-\(clean)-\(UUID().uuidString.prefix(8))"
        try await zk.create(path)
        return path
    }

    /// Deletes `path` and everything under it (best effort).
    static func deleteTree(_ zk: ZooKeeperClient, _ path: String) async {
        if let children = try? await zk.children(path) {
            for child in children { await deleteTree(zk, path + "/" + child) }
        }
        try? await zk.delete(path)
    }

    /// The error `body` throws, which must be a `ZooKeeperError`.
    static func error(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> ZooKeeperError? {
        do {
            try await body()
            Issue.record("expected a ZooKeeperError, got success", sourceLocation: sourceLocation)
            return nil
        } catch let error as ZooKeeperError {
            return error
        } catch {
            Issue.record("expected a ZooKeeperError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }
}

extension Array where Element == UInt8 {
    static func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }
}
