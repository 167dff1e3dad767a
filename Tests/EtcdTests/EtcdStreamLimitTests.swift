@testable import Etcd
import Foundation
import StoreTestSupport
import Testing

/// The server's SETTINGS_MAX_CONCURRENT_STREAMS, against an etcd started with
/// `--max-concurrent-streams 4` (its own server, ports 29492–29493).
@Suite("EtcdClient and the server's concurrent-stream limit", .serialized, .enabled(if: EtcdTest.enabled))
struct EtcdStreamLimitTests {
    /// Polls `condition` for up to 10 s.
    static func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<200 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    @Test("hundreds of concurrent calls beside an open Watch and LeaseKeepAlive stream all succeed, never more than the server's limit of streams open; a call queued past its deadline ends with .deadlineExceeded and frees nothing it did not hold")
    func queueing() async throws {
        let limit: UInt32 = 4
        let server = try await PrivateEtcd(count: 1, basePort: 29492, extraArguments: ["--max-concurrent-streams", "\(limit)"])
        defer { server.stop() }
        var configuration = EtcdClient.Configuration(endpoints: server.endpoints)
        configuration.timeouts = .init(connect: .seconds(3), request: .seconds(30))
        // No retries: a stream the server refused for exceeding its limit would fail the call.
        configuration.retry = .init(maxAttempts: 1)
        let etcd = try await EtcdClient.connect(configuration)
        defer { Task { await etcd.close() } }
        let connection = try await etcd.transport.connection()
        #expect(connection.statistics.withLockedValue { $0.peerLimit } == limit)

        let puts = 200, gets = 100
        let start = try await etcd.put("limit/seed", value: [42]).header.revision
        let watched = Task { try await collect(etcd.watch(prefix: "limit/w/", fromRevision: start), count: puts, timeout: .seconds(120)) }
        let lease = try await etcd.grantLease(ttl: .seconds(30))
        let renewals = Task { () -> Int in
            var n = 0
            for try await event in etcd.keepAlive(lease.id) where event == .renewed(ttl: .seconds(30)) { n += 1 }
            return n
        }
        // Both long-lived streams are open before the burst.
        #expect(try await Self.eventually { connection.statistics.withLockedValue { $0.open } == 2 })

        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<(puts + gets) {
                group.addTask {
                    if i % 3 == 2 {
                        #expect(try await etcd.get("limit/seed")?.value == [42])
                    } else {
                        try await etcd.put(String(format: "limit/w/%04d", i), value: Array("\(i)".utf8))
                    }
                }
            }
            try await group.waitForAll()
        }
        let written = (0..<(puts + gets)).filter { $0 % 3 != 2 }
        #expect(written.count == puts)
        let read = try await etcd.range(prefix: "limit/w/")
        #expect(read.kvs.map(\.key) == written.map { Array(String(format: "limit/w/%04d", $0).utf8) })
        #expect(read.kvs.map(\.valueString) == written.map { "\($0)" })
        let events = try await watched.value
        // Every write, once, in revision order (concurrent puts are applied in any order).
        #expect(events.map(\.kv.valueString).sorted() == written.map { "\($0)" }.sorted())
        #expect(events.map(\.kv.modRevision) == events.map(\.kv.modRevision).sorted())
        #expect(Set(events.map(\.kv.modRevision)).count == puts)
        #expect(connection.isUsable)
        var stats = connection.statistics.withLockedValue { $0 }
        #expect(stats.maxOpen == Int(limit), "\(stats)")   // reached, never exceeded
        #expect(stats.maxQueued > 0, "\(stats)")
        #expect(stats.queued == 0)

        // Fill every slot (Watch, LeaseKeepAlive and two more open streams): a call then waits in
        // the queue, and ends at its deadline without ever being sent.
        let extra = [connection.openStream("/etcdserverpb.Watch/Watch", metadata: []),
                     connection.openStream("/etcdserverpb.Watch/Watch", metadata: [])]
        #expect(try await Self.eventually { connection.statistics.withLockedValue { $0.open } == Int(limit) })
        let began = ContinuousClock.now
        let expired = await #expect(throws: EtcdError.self) {
            _ = try await connection.unary("/etcdserverpb.KV/Range", request: Proto.encode(EtcdRangeRequest(key: "limit/seed")),
                                           metadata: [], timeout: .milliseconds(300))
        }
        let waited = ContinuousClock.now - began
        #expect(expired?.code == .deadlineExceeded, "\(String(describing: expired))")
        #expect(waited >= .milliseconds(250) && waited < .seconds(3), "\(waited)")
        #expect(connection.statistics.withLockedValue { $0.queued } == 0)

        // A queued call through the public API starts as soon as a slot frees.
        let waiting = Task { try await etcd.get("limit/seed") }
        #expect(try await Self.eventually { connection.statistics.withLockedValue { $0.queued } == 1 })
        extra[0].0.cancel()
        #expect(try await waiting.value?.value == [42])
        extra[1].0.cancel()
        #expect(try await Self.eventually { connection.statistics.withLockedValue { $0.open } == 2 })
        stats = connection.statistics.withLockedValue { $0 }
        #expect(stats.maxOpen == Int(limit) && stats.queued == 0, "\(stats)")
        // The expired call left no slot taken: the full limit is usable again.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    let value = try await etcd.get("limit/seed")?.value
                    #expect(value == [42])
                }
            }
            try await group.waitForAll()
        }
        #expect(connection.statistics.withLockedValue { $0.maxOpen } == Int(limit))
        renewals.cancel()
        _ = try? await renewals.value
    }
}
