import Foundation
import Logging
import StoreTestSupport
import Testing
import ZooKeeper

/// Servers frozen, killed and restarted under a connected client. Each test starts its own
/// servers (scripts/start-zookeeper.sh on free ports), so other suites are not disturbed.
@Suite("ZooKeeper failover", .serialized, .timeLimit(.minutes(4)),
       .enabled(if: FileManager.default.fileExists(atPath: "/usr/share/java/zookeeper.jar") || TestStores.required))
struct ZooKeeperFailoverTests {
    static func codes(_ calls: [@Sendable () async throws -> Void]) async -> [String] {
        await withTaskGroup(of: String.self) { group in
            for call in calls {
                group.addTask {
                    do {
                        try await call()
                        return "ok"
                    } catch let error as ZooKeeperError {
                        return error.code.description
                    } catch {
                        return "\(error)"
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test("server killed with calls in flight: they fail with connectionLoss; after a restart the same session goes on")
    func killAndRestart() async throws {
        let servers = try await ZooKeeperServers.start(ensemble: false)
        do {
            var configuration = ZooKeeperClient.Configuration(connectString: servers.standaloneConnect, sessionTimeout: .seconds(30))
            configuration.operationTimeout = .seconds(25)
            let zk = try await ZooKeeperClient.connect(configuration)
            let session = zk.session?.id
            let states = Recorder(zk.sessionEvents)
            try await zk.create("/k", data: .utf8("0"))
            let events = Recorder(zk.watch("/k"))
            #expect(await events.wait { $0.count == 1 })

            // Frozen, the server answers nothing: these calls are in flight when it dies.
            try await servers.kill("zookeeper", signal: "STOP")
            let calls = Task {
                await Self.codes((0..<10).map { i in { @Sendable in _ = try await zk.set("/k", data: .utf8("lost-\(i)")) } })
            }
            try await Task.sleep(for: .milliseconds(500))
            try await servers.kill("zookeeper", signal: "KILL")
            let outcomes = await calls.value
            #expect(outcomes == Array(repeating: "connectionLoss", count: 10))
            #expect(await states.wait { $0.contains(.connecting) })
            // While the server is down, a call fails fast or at its deadline, never hangs.
            let whileDown = await ZK.error { _ = try await zk.get("/k") }
            #expect(whileDown.map { [.connectionLoss, .operationTimeout].contains($0.code) } == true)

            try await servers.restart("zookeeper")
            #expect(await states.wait(timeout: .seconds(30)) { $0.last == .connected }, "states: \(states.elements)")
            #expect(!states.elements.contains(.expired))
            #expect(zk.session?.id == session, "the session survived the restart")
            // A call that failed with connectionLoss may or may not have been applied.
            let afterRestart = try await ZK.retrying { try await zk.get("/k") }.data
            #expect((["0"] + (0..<10).map { "lost-\($0)" }).map { [UInt8]($0.utf8) }.contains(afterRestart))
            try await ZK.retrying { try await zk.set("/k", data: .utf8("after")) }
            #expect(await events.wait { $0.last?.data == .utf8("after") }, "the watch survived: \(events.elements.map(\.kind))")
            #expect(events.error == nil)
            events.cancel()
            await zk.close()
        } catch {
            await servers.stop()
            throw error
        }
        await servers.stop()
    }

    @Test("a frozen server: calls end with operationTimeout at their deadline, and close() does not hang")
    func frozenServer() async throws {
        let servers = try await ZooKeeperServers.start(ensemble: false)
        do {
            var configuration = ZooKeeperClient.Configuration(connectString: servers.standaloneConnect, sessionTimeout: .seconds(30))
            configuration.operationTimeout = .seconds(2)
            let zk = try await ZooKeeperClient.connect(configuration)
            let closeLog = CapturingLogHandler()
            var closingConfiguration = configuration
            closingConfiguration.logger = Logger(label: "closing") { _ in closeLog }
            let closing = try await ZooKeeperClient.connect(closingConfiguration)
            try await servers.kill("zookeeper", signal: "STOP")

            let start = ContinuousClock.now
            let error = await ZK.error { _ = try await zk.exists("/") }
            let elapsed = ContinuousClock.now - start
            #expect(error?.code == .operationTimeout)
            #expect(error?.message.contains("operationTimeout") == true)
            #expect(elapsed >= .seconds(2) && elapsed < .seconds(4), "took \(elapsed)")

            // A cancelled call ends at once with .cancelled.
            let cancelled = Task { await ZK.error { _ = try await zk.get("/") } }
            try await Task.sleep(for: .milliseconds(200))
            let cancelStart = ContinuousClock.now
            cancelled.cancel()
            #expect(await cancelled.value?.code == .cancelled)
            #expect(ContinuousClock.now - cancelStart < .milliseconds(500))

            // close() with calls in flight on a frozen server ends them all promptly.
            let calls = Task {
                await Self.codes((0..<20).map { i in { @Sendable in _ = try await closing.create("/frozen-\(i)") } })
            }
            try await Task.sleep(for: .milliseconds(300))
            let closeStart = ContinuousClock.now
            await closing.close()
            let outcomes = await calls.value
            #expect(ContinuousClock.now - closeStart < .seconds(5), "close took \(ContinuousClock.now - closeStart)")
            #expect(outcomes == Array(repeating: "closed", count: 20))

            // The 20 creates were sent: the C client would lose them (and leak their memory) if
            // its handle were closed now, so it is closed in the background once they are answered.
            #expect(!closeLog.captured.contains { $0.message == "ZooKeeper handle closed" }, "closed with calls in flight")
            try await servers.kill("zookeeper", signal: "CONT")
            #expect(try await ZK.retrying { try await zk.exists("/") } != nil)
            let closedBy = ContinuousClock.now + .seconds(20)
            while !closeLog.captured.contains(where: { $0.message == "ZooKeeper handle closed" }), ContinuousClock.now < closedBy {
                try await Task.sleep(for: .milliseconds(50))
            }
            let closeLines = closeLog.captured.filter { $0.message.hasPrefix("ZooKeeper handle closed") || $0.message.hasPrefix("ZooKeeper calls unanswered") }
            #expect(closeLines.map { $0.metadata["zookeeper.unanswered"] } == ["0", "0"], "\(closeLines)")
            #expect(closeLines.allSatisfy { $0.level == .debug }, "\(closeLines)")
            await zk.close()
        } catch {
            await servers.stop()
            throw error
        }
        await servers.stop()
    }

    @Test("ensemble: the client's server is killed; it moves to another within the session timeout and loses no watch")
    func ensembleFailover() async throws {
        let servers = try await ZooKeeperServers.start(ensemble: true)
        do {
            var configuration = ZooKeeperClient.Configuration(connectString: servers.ensembleConnect, sessionTimeout: .seconds(10))
            configuration.operationTimeout = .seconds(10)
            let zk = try await ZooKeeperClient.connect(configuration)
            let writer = try await ZooKeeperClient.connect(configuration)
            let session = zk.session?.id
            try await ZK.retrying { try await zk.create("/f", data: .utf8("start")) }
            try await ZK.retrying { try await zk.create("/f-children") }
            let data = Recorder(zk.watch("/f"))
            let children = Recorder(zk.watchChildren("/f-children"))
            #expect(await data.wait { $0.count == 1 })
            #expect(await children.wait { $0.count == 1 })
            let states = Recorder(zk.sessionEvents)
            #expect(await states.wait { $0 == [.connected] })

            let server = try #require(zk.connectedServer)
            let name = try #require(servers.ensembleName(of: server), "\(server) is not one of \(servers.ensembleConnect)")
            let killed = ContinuousClock.now
            try await servers.kill(name)
            // Changes made while the client is moving are not lost.
            try await ZK.retrying { try await writer.set("/f", data: .utf8("moved")) }
            try await ZK.retrying { try await writer.create("/f-children/c1") }

            #expect(await states.wait(timeout: .seconds(20)) { $0.count >= 3 && $0.last == .connected }, "states: \(states.elements)")
            #expect(ContinuousClock.now - killed < .seconds(10), "moved within the session timeout")
            #expect(!states.elements.contains(.expired))
            #expect(zk.session?.id == session)
            let now = try #require(zk.connectedServer)
            #expect(now != server)
            #expect(await data.wait { $0.last?.data == .utf8("moved") }, "data events: \(data.elements.map(\.kind))")
            #expect(await children.wait { $0.last?.children == ["c1"] })

            // And the watches go on from the new server.
            try await ZK.retrying { try await writer.set("/f", data: .utf8("again")) }
            #expect(await data.wait { $0.last?.data == .utf8("again") })
            _ = try await ZK.retrying { try await zk.sync("/f") }
            #expect(try await zk.get("/f").data == .utf8("again"), "sync then read sees the latest write")
            data.cancel()
            children.cancel()
            await writer.close()
            await zk.close()
        } catch {
            await servers.stop()
            throw error
        }
        await servers.stop()
    }
}
