@testable import Coordination
import Etcd
import NIOCore
import NIOPosix
import Testing

/// A `CoordinationError` that wraps a store client's error is one line that names the cause once:
/// the client's one-line summary, not its description plus its cause's description.
@Suite("CoordinationError lines")
struct CoordinationErrorLineTests {
    @Test("CoordinationError over a real refused etcd connection: one line, the cause once, the endpoint, under 200 characters")
    func wrapsRefusedEtcdOnce() async throws {
        // A loopback port nothing listens on: bound on port 0, read, closed.
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        try await channel.close()
        let endpoint = "127.0.0.1:\(port)"
        var configuration = EtcdClient.Configuration(endpoints: ["http://\(endpoint)"])
        configuration.timeouts.connect = .seconds(2)
        let refused = await #expect(throws: EtcdError.self) { try await EtcdClient.connect(configuration) }
        let etcdError = try #require(refused)

        let error = CoordinationError.store(etcdError, "acquiring the lock /locks/a")
        let text = "\(error)"
        #expect(error.code == .storeFailure)
        #expect((error.underlying as? EtcdError)?.code == .connectionFailed, "the client's error stays its underlying")
        #expect(!text.contains(where: { $0.isNewline }), "one line: \(text)")
        #expect(text.lowercased().split(separator: "connection refused", omittingEmptySubsequences: false).count == 2,
                "names the cause (connection refused) exactly once: \(text)")
        #expect(text.contains(endpoint), "names the endpoint: \(text)")
        // Without a backend the etcd cause keeps its "EtcdError.connectionFailed: " prefix.
        #expect(text.count < 240, "under 240 characters (\(text.count)): \(text)")
        #expect(!text.contains("scripts/"), "\(text)")
    }
}
