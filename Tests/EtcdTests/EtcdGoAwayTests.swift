import Etcd
import Foundation
import StoreTestSupport
import Testing

@Suite("EtcdClient when a server sends GOAWAY", .enabled(if: EtcdTest.enabled))
struct EtcdGoAwayTests {
    /// Polls `condition` for up to 10 s.
    static func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<200 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    @Test("GOAWAY(last-stream-id k): calls above k are retried on a new connection and succeed (writes too); unanswered calls at or below k fail retryably, and writes among them are not retried")
    func goAway() async throws {
        let real = try EtcdTest.endpoints()
        let prefix = EtcdTest.prefix()
        let seeder = try await EtcdClient.connect(try EtcdTest.configuration())
        defer { Task { await seeder.close() } }
        for i in 0..<4 { try await seeder.put(prefix + "get/\(i)", value: Array("v\(i)".utf8)) }

        // Eight calls on streams 1, 3, …, 15: the server answers streams 1 and 3, then says it
        // processed nothing after stream 7 and closes.
        let server = try await GoAwayServer.start(total: 8, answered: 2, lastStreamID: 7)
        defer { Task { await server.stop() } }
        var configuration = EtcdClient.Configuration(endpoints: [server.endpoint] + real)
        configuration.timeouts = .init(connect: .seconds(3), request: .seconds(10))
        configuration.retry = .init(maxAttempts: 5, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200))
        let etcd = try await EtcdClient.connect(configuration)
        defer { Task { await etcd.close() } }
        #expect(etcd.currentEndpoint == server.endpoint)

        // put0 get0 put1 get1 put2 get2 put3 get3, started one at a time so call i is on stream 2i+1.
        var calls: [Task<Result<[UInt8]?, EtcdError>, Never>] = []
        for i in 0..<8 {
            let key = prefix + (i % 2 == 0 ? "put/\(i / 2)" : "get/\(i / 2)")
            calls.append(Task {
                do {
                    if i % 2 == 0 {
                        try await etcd.put(key, value: Array("p\(i / 2)".utf8))
                        return .success(nil)
                    }
                    return .success(try await etcd.get(key)?.value)
                } catch let error as EtcdError {
                    return .failure(error)
                } catch {
                    return .failure(EtcdError(code: .unknown, message: "\(error)"))
                }
            })
            #expect(try await Self.eventually { server.received.count == i + 1 })
        }
        var results: [Result<[UInt8]?, EtcdError>] = []
        for call in calls { results.append(await call.value) }

        // The server saw each call once, on the stream expected.
        let received = server.received
        #expect(received.map(\.streamID) == [1, 3, 5, 7, 9, 11, 13, 15])
        for (i, request) in received.enumerated() {
            let key = prefix + (i % 2 == 0 ? "put/\(i / 2)" : "get/\(i / 2)")
            #expect(request.body.firstRange(of: Array(key.utf8)) != nil, "stream \(request.streamID)")
        }

        // Streams 1 and 3: answered by the going-away server.
        #expect(try results[0].get() == nil)
        #expect(try results[1].get() == nil)   // its (empty) answer, not the real value
        #expect(try await seeder.get(prefix + "put/0") == nil)
        // Stream 5, a write the server may have processed: fails retryably, and is not retried.
        guard case .failure(let error) = results[2] else {
            Issue.record("the unanswered put on stream 5 succeeded: \(results[2])")
            return
        }
        #expect(error.code == .unavailable, "\(error)")
        #expect(error.isRetryable && !error.wasNotProcessed, "\(error)")
        #expect(error.message.contains("GOAWAY") && error.message.contains("may or may not"), "\(error)")
        #expect(try await seeder.get(prefix + "put/1") == nil)
        // Stream 7, a read: retried on the real etcd.
        #expect(try results[3].get() == Array("v1".utf8))
        // Streams 9–15, not processed in the server's word: retried on a new connection, writes too.
        #expect(try results[4].get() == nil)
        #expect(try results[5].get() == Array("v2".utf8))
        #expect(try results[6].get() == nil)
        #expect(try results[7].get() == Array("v3".utf8))
        #expect(try await seeder.get(prefix + "put/2")?.value == Array("p2".utf8))
        #expect(try await seeder.get(prefix + "put/3")?.value == Array("p3".utf8))
        #expect(etcd.currentEndpoint == real[0])
        try await seeder.delete(prefix: prefix)
    }
}
