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

/// Collects what an AsyncSequence yields on a background task, so a test can wait for a
/// condition with a deadline instead of hanging on `next()`.
final class Recorder<Element: Sendable>: Sendable {
    private final class Storage: Sendable {
        let state = TestMutex<(elements: [Element], finished: Bool, error: (any Error)?)>(([], false, nil))
    }
    private let storage = Storage()
    private let task = TestMutex<Task<Void, Never>?>(nil)

    init<S: AsyncSequence & Sendable>(_ sequence: S) where S.Element == Element {
        let storage = self.storage
        let started = Task {
            do {
                for try await element in sequence {
                    storage.state.withLock { $0.elements.append(element) }
                }
                storage.state.withLock { $0.finished = true }
            } catch {
                storage.state.withLock { $0.finished = true; $0.error = error }
            }
        }
        task.withLock { $0 = started }
    }

    var elements: [Element] { storage.state.withLock { $0.elements } }
    var finished: Bool { storage.state.withLock { $0.finished } }
    var error: (any Error)? { storage.state.withLock { $0.error } }

    /// Waits until `condition` holds for the elements so far; false after `timeout`.
    @discardableResult
    func wait(timeout: Duration = .seconds(15), until condition: ([Element]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(elements) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(elements)
    }

    /// Waits until iteration ended; false after `timeout`.
    func waitFinished(timeout: Duration = .seconds(15)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if finished { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return finished
    }

    /// Ends the iteration (cancels the consuming task).
    func cancel() { task.withLock { $0?.cancel() } }
}

extension ZK {
    /// Expires `session` the way Curator's KillSession does: a second handle on it closes it.
    /// Retried while `expired()` stays false, because the original client reconnecting in
    /// between can take the session back before the second handle's close is sent.
    static func expire(_ session: ZooKeeperSession?, connect: String? = nil,
                       until expired: @Sendable () -> Bool) async throws {
        let session = try #require(session)
        for _ in 0..<3 {
            do {
                let thief = try await ZK.client { configuration in
                    configuration.session = session
                    if let connect { configuration.connectString = connect }
                }
                await thief.close()
            } catch let error as ZooKeeperError where error.code == .sessionExpired {
                // Already expired on the server; the owner notices when it reconnects.
            }
            // The owner notices on its next reconnect, which the C client may delay by a
            // fraction of the session timeout.
            for _ in 0..<150 where !expired() { try await Task.sleep(for: .milliseconds(100)) }
            if expired() { return }
        }
    }
}

extension ZK {
    /// Runs `body`, retrying retryable errors (connection loss, timeouts) for up to `timeout`.
    @discardableResult
    static func retrying<T>(timeout: Duration = .seconds(20), _ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                return try await body()
            } catch let error as ZooKeeperError where error.isRetryable && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
