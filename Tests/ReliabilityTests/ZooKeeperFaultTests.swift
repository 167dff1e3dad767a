import Foundation
import StoreTestSupport
import Synchronization
import Testing
import ZooKeeper

#if canImport(Glibc)
import Glibc
#endif

@Suite("ZooKeeper faults: SIGKILL, SIGSTOP, leader loss (own servers on ports 28100-28399)",
       .serialized, .enabled(if: Faults.zooKeeperEnabled, Faults.zooKeeperMissing), .timeLimit(.minutes(5)))
struct ZooKeeperFaultTests {
    static func configuration(_ connect: String, logs: LogCapture? = nil) -> ZooKeeperClient.Configuration {
        var configuration = ZooKeeperClient.Configuration(connectString: connect, sessionTimeout: .seconds(10))
        configuration.connectTimeout = .seconds(10)
        configuration.operationTimeout = .seconds(3)
        if let logs { configuration.logger = logs.logger("faults.zookeeper") } else {
            var quiet = configuration.logger
            quiet.logLevel = .critical
            configuration.logger = quiet
        }
        return configuration
    }

    /// operationTimeout plus scheduling slack on a loaded 2-core machine.
    static let callBound: Duration = .seconds(3 + 5)

    static func isRetryable(_ error: any Error) -> Bool {
        (error as? ZooKeeperError)?.isRetryable == true
    }

    /// Set `i`'s data: 16 KiB, so the 1,000 sets take long enough for the kill to catch many in flight.
    static func value(_ i: Int) -> [UInt8] {
        Array("value-\(i)-".utf8) + [UInt8](repeating: 0x61, count: 16_384)
    }

    @Test("SIGKILL during 1,000 pipelined sets, then restart: each set succeeded (and is readable) or threw a retryable error in time; the client reconnects by itself")
    func killDuringPipelinedSets() async throws {
        let directory = try TestServer.makeDirectory("zk-kill")
        let servers = try TestServer.zooKeeperEnsemble(count: 1, basePort: 28100, directory: directory)
        defer { TestServer.stopAll(servers, removing: directory) }
        let server = servers[0]
        try server.start()
        try await server.waitHealthy()

        let zk = try await ZooKeeperClient.connect(Self.configuration(server.address))
        let root = "/kill-\(UUID().uuidString.prefix(8))"
        try await zk.create(root)
        let count = 1_000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<count { group.addTask { _ = try await zk.create("\(root)/\(i)", data: Array("initial".utf8)) } }
            try await group.waitForAll()
        }

        let outcomes = try await Outcomes.killDuring(count, server: server) { i in
            _ = try await zk.set("\(root)/\(i)", data: Self.value(i))
        }
        try await server.waitHealthy()

        let entries = outcomes.all
        #expect(entries.count == count)
        for entry in entries {
            #expect(entry.elapsed < Self.callBound, "set \(entry.index) took \(entry.elapsed)")
            if let error = entry.error {
                #expect(Self.isRetryable(error), "set \(entry.index) threw a non-retryable \(error)")
            }
        }
        #expect(!outcomes.failed.isEmpty, "the kill hit calls in flight (else this test proved nothing)")

        let recovered = await retryUntil(.seconds(40)) { _ = try await zk.get(root) }
        #expect(recovered, "the client did not reconnect by itself")
        for i in outcomes.succeeded {
            let data = try await zk.get("\(root)/\(i)").data
            #expect(data == Self.value(i), "acknowledged set \(i) lost")
        }
        await zk.close()
    }

    @Test("SIGSTOP: calls end at their deadline with .operationTimeout; after SIGCONT the same client recovers")
    func frozenServer() async throws {
        let directory = try TestServer.makeDirectory("zk-stop")
        let servers = try TestServer.zooKeeperEnsemble(count: 1, basePort: 28105, directory: directory)
        defer { TestServer.stopAll(servers, removing: directory) }
        let server = servers[0]
        try server.start()
        try await server.waitHealthy()
        let configuration = Self.configuration(server.address)
        let deadline = configuration.operationTimeout
        let zk = try await ZooKeeperClient.connect(configuration)
        let path = "/stop-\(UUID().uuidString.prefix(8))"
        try await zk.create(path, data: Array("before".utf8))

        #expect(await server.freeze(), "the server is stopped (state \(String(describing: server.processState)))")
        var codes: [ZooKeeperError.Code?] = []
        await withTaskGroup(of: (Result<ZooKeeperStat, any Error>, Duration).self) { group in
            for i in 0..<10 {
                group.addTask { await timed { try await zk.set(path, data: [UInt8(i)]) } }
            }
            for await (result, elapsed) in group {
                #expect(elapsed < deadline + timingSlack, "a call outlived its \(deadline) operationTimeout: \(elapsed)")
                #expect(elapsed >= deadline, "it waited for its deadline (\(elapsed)): \(String(describing: result.failureIfAny))")
                codes.append((result.failureIfAny as? ZooKeeperError)?.code)
            }
        }
        #expect(codes.allSatisfy { $0 == .operationTimeout }, "\(codes)")

        server.signal(SIGCONT)
        let recovered = await retryUntil(.seconds(30)) { _ = try await zk.get(path) }
        #expect(recovered, "the client did not recover after SIGCONT")
        try await zk.set(path, data: Array("after".utf8))
        #expect(try await zk.get(path).data == Array("after".utf8))
        await zk.close()
    }

    @Test("3-server ensemble, leader SIGKILLed under 8 concurrent writers and a watch: writes fail over, nothing acknowledged is lost, the watch sees the last value",
          .enabled(if: Faults.slowEnabled, Faults.slow))
    func leaderLoss() async throws {
        let directory = try TestServer.makeDirectory("zk-leader")
        let servers = try TestServer.zooKeeperEnsemble(count: 3, basePort: 28110, directory: directory)
        defer { TestServer.stopAll(servers, removing: directory) }
        for server in servers { try server.start() }
        for server in servers { try await server.waitHealthy(timeout: .seconds(90)) }
        let killed = try #require(servers.first { $0.zooKeeperMode() == "leader" })

        let connect = servers.map(\.address).joined(separator: ",")
        let zk = try await ZooKeeperClient.connect(Self.configuration(connect))
        let root = "/leader-\(UUID().uuidString.prefix(8))"
        try await zk.create(root)
        for writer in 0..<8 { try await zk.create("\(root)/\(writer)", data: Array("0".utf8)) }
        let watcher = try await ZooKeeperClient.connect(Self.configuration(connect))
        let lastSeen = Locked<[UInt8]?>(nil)
        let watchTask = Task {
            for try await event in watcher.watch("\(root)/0") { lastSeen.withLock { $0 = event.data } }
        }

        let outcomes = Outcomes()
        let lastAcknowledged = Locked<[Int: Int]>([:])
        let killAt = ContinuousClock.now + .seconds(1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    var i = 1
                    while ContinuousClock.now < killAt + .seconds(10) {
                        let (result, elapsed) = await timed { try await zk.set("\(root)/\(writer)", data: Array("\(i)".utf8)) }
                        outcomes.record(.init(index: writer, error: result.failureIfAny, elapsed: elapsed, finishedAt: .now))
                        if result.failureIfAny == nil { lastAcknowledged.withLock { $0[writer] = i } }
                        i += 1
                    }
                }
            }
            group.addTask {
                try await Task.sleep(until: killAt)
                killed.kill9()
            }
            try await group.waitForAll()
        }

        for entry in outcomes.all {
            #expect(entry.elapsed < Self.callBound, "a set took \(entry.elapsed)")
            if let error = entry.error { #expect(Self.isRetryable(error), "\(error)") }
        }
        let late = outcomes.all.filter { $0.error == nil && $0.finishedAt > killAt + .seconds(5) }
        #expect(late.count > 10, "writes did not fail over to the new leader")
        // Each writer's last acknowledged value is stored (a later unacknowledged one may be too).
        for (writer, last) in lastAcknowledged.withLock({ $0 }) {
            let stored = Int(String(decoding: try await zk.get("\(root)/\(writer)").data, as: UTF8.self)) ?? -1
            #expect(stored >= last, "writer \(writer): acknowledged \(last), stored \(stored)")
        }
        let final = try await zk.get("\(root)/0").data
        #expect(await waitUntil(.seconds(20)) { lastSeen.withLock { $0 } == final }, "the watch did not reach the last value")
        watchTask.cancel()
        await watcher.close()
        await zk.close()
    }
}
