import AutoCluster
import NodeList
import Testing

@Suite struct ProbeTests {
    @Test func tcpProbeSeesListenersAndClosedPorts() async throws {
        let listener = try await LoopbackListener.start()
        let dead = try await LoopbackListener.deadAddress()
        let probe = TCPProbe(timeout: .seconds(3))
        #expect(await probe.probe(ClusterNode(name: "up", address: listener.address), timeout: .seconds(3)))
        #expect(await probe.probe(ClusterNode(name: "down", address: dead), timeout: .seconds(3)) == false)
        #expect(await probe.probe(ClusterNode(name: "bad", address: "no-port"), timeout: .seconds(3)) == false)
        await listener.close()
    }

    @Test func httpProbeNeedsA2xxAnswer() async throws {
        let ok = try await LoopbackListener.start(status: 204)
        let failing = try await LoopbackListener.start(status: 503)
        let dead = try await LoopbackListener.deadAddress()
        let probe = HTTPProbe(path: "/health", timeout: .seconds(3))
        #expect(await probe.probe(ClusterNode(name: "ok", address: ok.address), timeout: .seconds(3)))
        #expect(await probe.probe(ClusterNode(name: "503", address: failing.address), timeout: .seconds(3)) == false)
        #expect(await probe.probe(ClusterNode(name: "dead", address: dead), timeout: .seconds(3)) == false)
        await ok.close()
        await failing.close()
    }

    @Test func probesHonourTheirTimeout() async throws {
        let slow = ClosureProbe { _, _ in
            try await Task.sleep(for: .seconds(5))
            return true
        }
        let clock = ContinuousClock()
        let start = clock.now
        #expect(await slow.probe(ClusterNode(name: "slow", address: "127.0.0.1:1"), timeout: .milliseconds(100)) == false)
        #expect(clock.now - start < .seconds(4))
    }
}
