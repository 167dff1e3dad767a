import Foundation
import Logging
import StoreTestSupport
import Testing
import ZooKeeper

/// A swift-log handler that keeps what it is given.
final class CapturingLogHandler: LogHandler, Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }
    private let entries = TestMutex<[Entry]>([])
    var captured: [Entry] { entries.withLock { $0 } }

    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        let flat = (event.metadata ?? [:]).mapValues { "\($0)" }
        entries.withLock { $0.append(Entry(level: event.level, message: "\(event.message)", metadata: flat)) }
        TestLogCapture.record("\(event.level) zookeeper-test \(event.message) \(flat)")  // the whole-run secret scan
    }
}

@Suite("ZooKeeper logging", .enabled(if: ZK.enabled), .timeLimit(.minutes(1)))
struct ZooKeeperLoggingTests {
    @Test("the C library's log reaches this client's Logger, and no credentials are logged")
    func cLogReachesLogger() async throws {
        let handler = CapturingLogHandler()
        let other = CapturingLogHandler()
        // Another client connecting at the same time must not receive this one's messages.
        let otherClient = try await ZK.client { $0.logger = Logger(label: "other") { _ in other } }
        let zk = try await ZK.client { configuration in
            configuration.logger = Logger(label: "test") { _ in handler }
            configuration.authentication = [(scheme: "digest", credentials: "user:very-secret-pw")]
        }
        try await zk.addAuth(scheme: "digest", credentials: "user2:another-secret")
        _ = try await zk.exists("/")
        let session = try #require(zk.session)
        await zk.close()

        let fromC = handler.captured.filter { $0.metadata["source"] == "libzookeeper" }
        #expect(!fromC.isEmpty, "no message from the C library reached the logger")
        let sessionHex = String(UInt64(bitPattern: session.id), radix: 16)
        #expect(fromC.contains { $0.message.contains(sessionHex) }, "the C library's session messages are this client's")
        #expect(!other.captured.contains { $0.message.contains(sessionHex) }, "another client's logger got this session's messages")
        let everything = handler.captured.map { $0.message + " " + $0.metadata.description }.joined(separator: "\n")
        #expect(!everything.contains("very-secret-pw"))
        #expect(!everything.contains("another-secret"))
        await otherClient.close()
    }
}
