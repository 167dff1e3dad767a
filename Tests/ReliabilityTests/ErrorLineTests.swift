import Consul
import ConsulStandIn
import Etcd
import Foundation
import NIOCore
import NIOPosix
import NodeList
import StoreTestSupport
import Testing
import ZooKeeper

/// Every error's description is one line that says what happened and names the cause once
/// (nested causes summarised, not repeated), names the endpoint, stays short, and never points at
/// this repository's scripts. Checked on real connection-refused errors: each client against a
/// loopback port nothing listens on, and the `NodeListError` that wraps it.
@Suite("Error lines: one line, the cause named once, the endpoint named, no repository scripts")
struct ErrorLineTests {
    /// The longest description accepted (the `autocluster: error: ` prefix comes on top).
    static let bound = 200

    /// A loopback port nothing listens on: bound on port 0, read, closed.
    static func closedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        try await channel.close()
        return port
    }

    /// How often `phrase` occurs in `text`, ignoring case.
    static func occurrences(of phrase: String, in text: String) -> Int {
        text.lowercased().components(separatedBy: phrase.lowercased()).count - 1
    }

    static func check(_ text: String, _ what: String, endpoint: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!text.contains(where: { $0.isNewline }), "\(what) is one line: \(text)", sourceLocation: sourceLocation)
        #expect(occurrences(of: "connection refused", in: text) == 1,
                "\(what) names the cause (connection refused) exactly once: \(text)", sourceLocation: sourceLocation)
        #expect(text.contains(endpoint), "\(what) names the endpoint \(endpoint): \(text)", sourceLocation: sourceLocation)
        #expect(text.count < bound, "\(what) is under \(bound) characters (\(text.count)): \(text)", sourceLocation: sourceLocation)
        #expect(!text.contains("scripts/") && !text.contains("start-stores"),
                "\(what) does not point at this repository's scripts: \(text)", sourceLocation: sourceLocation)
    }

    @Test("etcd: EtcdError for a refused connection, and the NodeListError that wraps it")
    func etcdRefused() async throws {
        let port = try await Self.closedPort()
        let endpoint = "127.0.0.1:\(port)"
        var configuration = EtcdClient.Configuration(endpoints: ["http://\(endpoint)"])
        configuration.timeouts.connect = .seconds(2)
        let error = await #expect(throws: EtcdError.self) { try await EtcdClient.connect(configuration) }
        #expect(error?.code == .connectionFailed, "\(String(describing: error))")
        Self.check(error.map { "\($0)" } ?? "", "EtcdError", endpoint: endpoint)
        #expect(error?.underlying != nil, "the cause stays available programmatically")

        let wrapped = await #expect(throws: NodeListError.self) {
            _ = try await StoreConnection.open(StoreURL(parsing: "etcd://\(endpoint)"), connectTimeout: .seconds(2))
        }
        #expect(wrapped?.code == .storeFailure, "\(String(describing: wrapped))")
        #expect((wrapped?.underlying as? EtcdError)?.code == .connectionFailed, "the client's error stays its underlying")
        Self.check(wrapped.map { "\($0)" } ?? "", "NodeListError", endpoint: endpoint)
    }

    @Test("ZooKeeper: ZooKeeperError for a refused connection, and the NodeListError that wraps it")
    func zooKeeperRefused() async throws {
        let port = try await Self.closedPort()
        let endpoint = "127.0.0.1:\(port)"
        var configuration = ZooKeeperClient.Configuration(connectString: endpoint)
        configuration.connectTimeout = .seconds(2)
        let error = await #expect(throws: ZooKeeperError.self) { try await ZooKeeperClient.connect(configuration) }
        #expect(error?.code == .connectionLoss, "\(String(describing: error))")
        Self.check(error.map { "\($0)" } ?? "", "ZooKeeperError", endpoint: endpoint)

        let wrapped = await #expect(throws: NodeListError.self) {
            _ = try await StoreConnection.open(StoreURL(parsing: "zookeeper://\(endpoint)"), connectTimeout: .seconds(2))
        }
        #expect(wrapped?.code == .storeFailure, "\(String(describing: wrapped))")
        #expect((wrapped?.underlying as? ZooKeeperError)?.code == .connectionLoss, "the client's error stays its underlying")
        Self.check(wrapped.map { "\($0)" } ?? "", "NodeListError", endpoint: endpoint)
    }

    @Test("Consul (against the stand-in's closed port): ConsulError for a refused connection, and the NodeListError that wraps it")
    func consulRefused() async throws {
        // The port of a stand-in that was started and shut down: nothing listens on it.
        let standIn = try await ConsulStandIn.start()
        let port = standIn.port
        try await standIn.shutdown()
        let endpoint = "127.0.0.1:\(port)"
        var configuration = ConsulClient.Configuration(address: "http://\(endpoint)")
        configuration.timeouts.connect = .seconds(2)
        let client = ConsulClient(configuration)
        let error = await #expect(throws: ConsulError.self) { try await client.kv.get("x") }
        try await client.shutdown()
        #expect(error?.code == .unreachable, "\(String(describing: error))")
        Self.check(error.map { "\($0)" } ?? "", "ConsulError", endpoint: endpoint)

        let connection = try await StoreConnection.open(StoreURL(parsing: "consul://\(endpoint)"), connectTimeout: .seconds(2))
        let wrapped = await #expect(throws: NodeListError.self) {
            _ = try await NodeListStore(backend: connection.backend, key: "/x").nodes()
        }
        await connection.close()
        #expect(wrapped?.code == .storeFailure, "\(String(describing: wrapped))")
        #expect((wrapped?.underlying as? ConsulError)?.code == .unreachable, "the client's error stays its underlying")
        Self.check(wrapped.map { "\($0)" } ?? "", "NodeListError", endpoint: endpoint)
    }

    @Test("Descriptions are one line, naming an NIO cause once in a few words, even when the message or the store's text has line breaks")
    func multiLinePartsBecomeOneLine() {
        let refused = IOError(errnoCode: ECONNREFUSED, reason: "connect")  // "connect: Connection refused (errno: 111)"
        let texts = [
            "\(EtcdError(code: .internal, message: "first\nsecond", serverMessage: "x\ny", underlying: refused))",
            "\(ConsulError(.serverError, message: "first\nsecond", httpStatus: 500, consulMessage: "x\ny", underlying: refused))",
            "\(ZooKeeperError(code: .systemError, message: "first\nsecond", underlying: refused))",
            "\(NodeListError(code: .storeFailure, message: "first\nsecond", underlying: refused))",
        ]
        for text in texts {
            #expect(!text.contains(where: { $0.isNewline }), "one line: \(text)")
        }
        for text in texts.prefix(2) {
            #expect(Self.occurrences(of: "connection refused", in: text) == 1, "the cause once: \(text)")
            #expect(!text.contains("errno"), "NIO's own text is summarised: \(text)")
        }
    }

    @Test("autocluster list with the store down (a closed loopback port) prints exactly one stderr line, under the bound, naming the cause once",
          arguments: ["etcd", "zookeeper", "consul"])
    func commandLineWithStoreDown(_ scheme: String) async throws {
        let port = try await Self.closedPort()
        let endpoint = "127.0.0.1:\(port)"
        let result = try await CommandRunner.run(["list", "--store", "\(scheme)://\(endpoint)", "--key", "/x"])
        #expect(result.status == 69, "exit status 69 (unavailable) when the store cannot be reached: \(result.stderr)")
        #expect(result.stderrLines.count == 1, "exactly one stderr line: \(result.stderr)")
        let line = String(result.stderrLines.first ?? "")
        #expect(line.hasPrefix("autocluster: error: "), "\(line)")
        Self.check(String(line.dropFirst("autocluster: error: ".count)), "the command's error line", endpoint: endpoint)
    }
}
