import Foundation
import Testing
import ZooKeeper

/// Read-only mode (Configuration.allowReadOnly) against a private 3-server ensemble started with
/// `-Dreadonlymode.enabled=true` and local sessions. In the failover suite: it kills servers.
extension ZooKeeperFailoverTests {
    @Test("read-only mode: quorum lost → connectedReadOnly, reads succeed, writes fail with notReadOnly; quorum back → connected, writes succeed")
    func readOnlyMode() async throws {
        let servers = try await ZooKeeperServers.start(ensemble: true, readOnlyMode: true)
        do {
            var configuration = ZooKeeperClient.Configuration(connectString: servers.ensembleConnect, sessionTimeout: .seconds(6))
            configuration.operationTimeout = .seconds(5)
            configuration.allowReadOnly = true
            let zk = try await ZooKeeperClient.connect(configuration)
            try await ZK.retrying { try await zk.create("/ro", data: .utf8("before")) }
            let states = Recorder(zk.sessionEvents)
            let events = Recorder(zk.watch("/ro"))
            #expect(await events.wait { $0.count == 1 })
            #expect(await states.wait { $0 == [.connected] })

            // Two of three servers gone: the survivor has no quorum and turns read-only. The
            // session opened with the quorum is not valid there: it expires, and the new one is
            // read-only.
            try await servers.kill("zookeeper2")
            try await servers.kill("zookeeper3")
            #expect(await states.wait(timeout: .seconds(40)) { $0.last == .connectedReadOnly }, "states: \(states.elements)")
            let readOnlySession = zk.session?.id
            #expect(try await ZK.retrying { try await zk.get("/ro") }.data == .utf8("before"), "reads are served")
            #expect(try await ZK.retrying { try await zk.children("/") }.contains("ro"))
            let write = await ZK.error { _ = try await zk.set("/ro", data: .utf8("refused")) }
            #expect(write?.code == .notReadOnly)
            #expect(write?.message.contains("read-only") == true && write?.message.contains("retry") == true, "\(write?.message ?? "")")
            let create = await ZK.error { _ = try await zk.create("/ro-new") }
            #expect(create?.code == .notReadOnly)

            // Without allowReadOnly a client finds no server to connect to.
            var strict = configuration
            strict.allowReadOnly = false
            strict.connectTimeout = .seconds(3)
            let refused = await ZK.error { _ = try await ZooKeeperClient.connect(strict) }
            #expect(refused?.code == .connectionLoss)

            // Quorum back: the C client finds the read-write servers by itself and moves to one
            // as a new session.
            try await servers.restart("zookeeper2")
            try await servers.restart("zookeeper3")
            #expect(await states.wait(timeout: .seconds(60)) { $0.last == .connected }, "states: \(states.elements)")
            #expect(Array(states.elements.drop { $0 != .connectedReadOnly }.prefix(3)) == [.connectedReadOnly, .connecting, .connected],
                    "states: \(states.elements)")
            #expect(zk.session?.id != readOnlySession, "a read-only session is not carried over to the quorum")
            try await ZK.retrying { try await zk.set("/ro", data: .utf8("after")) }
            #expect(try await zk.get("/ro").data == .utf8("after"))
            // Ephemeral nodes work on these servers (the local session is upgraded to a global one).
            try await ZK.retrying { try await zk.create("/ro-eph", mode: .ephemeral) }
            #expect(try await zk.exists("/ro-eph")?.ephemeralOwner == zk.session?.id)
            #expect(await events.wait { $0.last?.data == .utf8("after") }, "the watch goes on: \(events.elements.map(\.kind))")
            #expect(events.error == nil)
            events.cancel()
            await zk.close()
        } catch {
            await servers.stop()
            throw error
        }
        await servers.stop()
    }
}
