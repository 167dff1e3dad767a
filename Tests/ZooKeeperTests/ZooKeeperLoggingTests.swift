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

        let fromC = handler.captured.filter { $0.metadata["zookeeper.source"] == "libzookeeper" }
        #expect(!fromC.isEmpty, "no message from the C library reached the logger")
        let sessionHex = String(UInt64(bitPattern: session.id), radix: 16)
        #expect(fromC.contains { $0.message.contains(sessionHex) }, "the C library's session messages are this client's")
        #expect(!other.captured.contains { $0.message.contains(sessionHex) }, "another client's logger got this session's messages")
        let everything = handler.captured.map { $0.message + " " + $0.metadata.description }.joined(separator: "\n")
        #expect(!everything.contains("very-secret-pw"))
        #expect(!everything.contains("another-secret"))
        await otherClient.close()
    }

    static func hex(_ session: ZooKeeperSession) -> String {
        String(UInt64(bitPattern: session.id), radix: 16)
    }

    /// The C library's lines that name a session, by the logger that got them.
    static func sessionLines(_ handler: CapturingLogHandler) -> [String] {
        handler.captured.filter { $0.metadata["zookeeper.source"] == "libzookeeper" }.map(\.message)
    }

    @Test("clients opened and closed in a loop: each one's C log lines, up to its own zookeeper_close, reach its logger and no other")
    func logSlotsOutliveClose() async throws {
        for round in 0..<8 {
            var clients: [(handler: CapturingLogHandler, session: ZooKeeperSession)] = []
            let a = CapturingLogHandler(), b = CapturingLogHandler(), c = CapturingLogHandler()
            let zkA = try await ZK.client { $0.logger = Logger(label: "a") { _ in a } }
            let zkB = try await ZK.client { $0.logger = Logger(label: "b") { _ in b } }
            clients += [(a, try #require(zkA.session)), (b, try #require(zkB.session))]
            if round % 2 == 0 {
                await zkA.close()
            } else {
                // Dropped without close: closed in the background, while C takes A's place.
                _ = consume zkA
            }
            let zkC = try await ZK.client { $0.logger = Logger(label: "c") { _ in c } }
            clients.append((c, try #require(zkC.session)))
            await zkB.close()
            await zkC.close()
            if round % 2 == 1 {
                // Wait for the dropped client's background close.
                for _ in 0..<100 where !Self.sessionLines(a).contains(where: { $0.contains("Closing zookeeper sessionId=0x" + Self.hex(clients[0].session)) }) {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            for (index, client) in clients.enumerated() {
                let lines = Self.sessionLines(client.handler)
                let own = "Closing zookeeper sessionId=0x" + Self.hex(client.session)
                #expect(lines.contains { $0.contains(own) }, "round \(round): client \(index) did not get its own zookeeper_close line")
                for (other, otherClient) in clients.enumerated() where other != index {
                    let foreign = lines.filter { $0.contains(Self.hex(otherClient.session)) }
                    #expect(foreign.isEmpty, "round \(round): client \(index) got client \(other)'s lines: \(foreign)")
                }
            }
        }
    }

    @Test("more clients than log slots: the ones without a slot say so, and no client gets another's lines")
    func moreClientsThanLogSlots() async throws {
        let count = 130
        var clients: [(client: ZooKeeperClient, handler: CapturingLogHandler, session: ZooKeeperSession)] = []
        for index in 0..<count {
            let handler = CapturingLogHandler()
            let zk = try await ZK.client { $0.logger = Logger(label: "client-\(index)") { _ in handler } }
            clients.append((zk, handler, try #require(zk.session)))
        }
        // Closed last-but-one first: its zookeeper_close runs while the newest client is open.
        for index in [count - 2, count - 1] + Array(0..<(count - 2)) {
            await clients[index].client.close()
        }
        let withoutSlot = clients.filter { entry in
            entry.handler.captured.contains { $0.level == .notice && $0.message.contains("ZooKeeper handles are open") }
        }
        #expect(withoutSlot.count >= count - 128, "at most 128 clients have a log slot of their own")
        var hexes: [String: Int] = [:]
        for (index, entry) in clients.enumerated() { hexes[Self.hex(entry.session)] = index }
        for (index, entry) in clients.enumerated() {
            let foreign = Self.sessionLines(entry.handler).filter { line in
                hexes.contains { $0.value != index && line.contains($0.key) }
            }
            #expect(foreign.isEmpty, "client \(index) got other clients' lines: \(foreign.prefix(3))")
        }
    }
}
