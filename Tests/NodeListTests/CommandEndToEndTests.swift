import AutoCluster
import Foundation
import NodeList
import StoreTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `autocluster` command against the real stores (and the Consul stand-in).
@Suite(.enabled(if: StoreKind.allEnabled, "needs ZOOKEEPER_CONNECT and ETCD_ENDPOINTS (scripts/test.sh)"))
struct CommandEndToEndTests {
    /// A loopback port outside the ephemeral range (so no test's port-0 listener takes it) that
    /// is free right now.
    static func freePort() throws -> Int {
        for _ in 0..<200 {
            let port = Int.random(in: 24_100..<24_999)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            if ok { return port }
        }
        throw CommandRunner.Failure(description: "no free port in 24100..<24999")
    }

    func json(_ text: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(object as? [String: Any])
    }

    func names(_ nodes: Any?) -> [String] {
        ((nodes as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
    }

    func listedNames(_ url: String, _ key: String) async throws -> [String] {
        let result = try await CommandRunner.run(["list", "--store", url, "--key", key, "--output", "json"])
        guard result.status == 0 else {
            throw CommandRunner.Failure(description: "list failed: \(result.stderr)")
        }
        return try NodeListDocument.decode(Array(result.stdout.utf8), version: 0).nodes.map(\.name)
    }

    @Test(arguments: StoreKind.available)
    func joinListSweepLeave(_ kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { Task { await fixture.shutdown() } }
        let url = fixture.storeURL
        let key = fixture.key
        let live1 = try await LoopbackListener.start()
        let live2 = try await LoopbackListener.start()
        defer { Task { await live1.close(); await live2.close() } }
        let dead = try await LoopbackListener.deadAddress()

        let first = try await CommandRunner.run(
            ["join", "--store", url, "--key", key, "--name", "n1", "--address", live1.address, "--metadata", "zone=a", "--output", "json"])
        #expect(first.status == 0, "\(first.stderr)")
        let created = try json(first.stdout)
        #expect(created["created"] as? Bool == true)
        #expect(created["seed"] is NSNull)
        #expect(names(created["nodes"]) == ["n1"])

        // --store from $AUTOCLUSTER_STORE.
        let second = try await CommandRunner.run(
            ["join", "--key", key, "--name", "n2", "--address", live2.address, "--output", "json"], environment: ["AUTOCLUSTER_STORE": url])
        #expect(second.status == 0, "\(second.stderr)")
        let joined = try json(second.stdout)
        #expect(joined["created"] as? Bool == false)
        #expect((joined["seed"] as? [String: Any])?["name"] as? String == "n1")
        #expect(joined["attempts"] as? Int == 1)
        #expect(names(joined["nodes"]) == ["n1", "n2"])

        let third = try await CommandRunner.run(["join", "--store", url, "--key", key, "--name", "n3", "--address", dead])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stdout.contains("n3 joined"))

        let table = try await CommandRunner.run(["list", "--store", url, "--key", key])
        #expect(table.status == 0)
        #expect(table.stdout.split(separator: "\n").count == 5)  // version line + header + 3 rows
        #expect(table.stdout.contains("zone=a"))

        // An outsider's sweep removes nothing nobody has voted against; n1's records its vote;
        // n2's vote makes the majority of the list (2 of 3), and its sweep removes n3.
        let outsider = try await CommandRunner.run(["sweep", "--store", url, "--key", key, "--sweep-grace", "0s", "--output", "json"])
        #expect(outsider.status == 0, "\(outsider.stderr)")
        #expect(names(try json(outsider.stdout)["swept"]) == [])
        let byN1 = try await CommandRunner.run(["sweep", "--store", url, "--key", key, "--as", "n1", "--sweep-grace", "0s", "--output", "json"])
        #expect(byN1.status == 0, "\(byN1.stderr)")
        #expect(names(try json(byN1.stdout)["swept"]) == [])
        let sweep = try await CommandRunner.run(["sweep", "--store", url, "--key", key, "--as", "n2", "--sweep-grace", "0s", "--output", "json"])
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let swept = try json(sweep.stdout)
        #expect(names(swept["swept"]) == ["n3"])
        #expect(names(swept["nodes"]) == ["n1", "n2"])

        let leave = try await CommandRunner.run(["leave", "--store", url, "--key", key, "--name", "n1"])
        #expect(leave.status == 0)
        #expect(try await listedNames(url, key) == ["n2"])
    }

    /// Issue 15, guarantee 8 through the command: a second live process joining under a listed
    /// live node's name gets one error line naming both incarnations, exits non-zero, and the
    /// stored value is unchanged (the same bytes at the same version).
    @Test(arguments: StoreKind.available)
    func aDuplicateNameIsOneErrorLineNamingBothIncarnationsAndWritesNothing(_ kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { Task { await fixture.shutdown() } }
        let (url, key) = (fixture.storeURL, fixture.key)
        let live1 = try await LoopbackListener.start()
        let live2 = try await LoopbackListener.start()
        defer { Task { await live1.close(); await live2.close() } }
        let first = try await CommandRunner.run(
            ["join", "--store", url, "--key", key, "--name", "web", "--address", live1.address, "--incarnation", "first-run"])
        #expect(first.status == 0, "\(first.stderr)")
        let backend = try await fixture.backend()
        let before = try await backend.read(key: key)

        let second = try await CommandRunner.run(
            ["join", "--store", url, "--key", key, "--name", "web", "--address", live2.address, "--incarnation", "second-run"])
        #expect(second.status == 75, "a conflict is exit status 75: \(second.stderr)")
        #expect(second.stderrLines.count == 1, "\(second.stderr)")
        #expect(second.stderr.hasPrefix("autocluster: error: node name web is claimed by two live processes"), "\(second.stderr)")
        #expect(second.stderr.contains("incarnation first-run at \(live1.address)"), "\(second.stderr)")
        #expect(second.stderr.contains("incarnation second-run at \(live2.address)"), "\(second.stderr)")
        #expect(try await backend.read(key: key) == before)
    }

    @Test(arguments: StoreKind.available)
    func corruptValueAndUnreachableStoreFailWithOneLine(_ kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { Task { await fixture.shutdown() } }
        let backend = try await fixture.backend()
        let garbage = Array("not a node list".utf8)
        _ = try await backend.createIfAbsent(key: fixture.key, value: garbage)
        let before = try await backend.read(key: fixture.key)

        for arguments in [
            ["list", "--store", fixture.storeURL, "--key", fixture.key],
            ["join", "--store", fixture.storeURL, "--key", fixture.key, "--name", "n", "--address", "127.0.0.1:1"],
        ] {
            let result = try await CommandRunner.run(arguments)
            #expect(result.status == 65, "a corrupt value is exit status 65: \(result.stderr)")
            #expect(result.stderrLines.count == 1, "\(result.stderr)")
            #expect(result.stderr.contains("not a format-1 document"))
        }
        #expect(try await backend.read(key: fixture.key) == before)

        let replaced = try await CommandRunner.run(
            ["join", "--store", fixture.storeURL, "--key", fixture.key, "--name", "n", "--address", "127.0.0.1:1", "--replace-corrupt"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(try await listedNames(fixture.storeURL, fixture.key) == ["n"])

        let deadPort = try await LoopbackListener.deadAddress()
        let unreachable: String
        switch kind {
        case .zooKeeper: unreachable = "zookeeper://\(deadPort)"
        case .etcd: unreachable = "etcd://\(deadPort)"
        case .consul: unreachable = "consul://\(deadPort)"
        }
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await CommandRunner.run(["list", "--store", unreachable, "--key", "/x"], timeout: .seconds(30))
        #expect(clock.now - start < .seconds(20))
        #expect(result.status != 0)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("autocluster: error: "))
    }

    @Test(arguments: StoreKind.available)
    func runIsALiveMemberThatLeavesOnSIGTERM(_ kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { Task { await fixture.shutdown() } }
        let url = fixture.storeURL
        let key = fixture.key
        let address = "127.0.0.1:\(try Self.freePort())"
        let watch = try CommandRunner.start(["watch", "--store", url, "--key", key, "--output", "json"])
        // The watch's first state (the empty list) before the member starts: a watch process slow
        // to start (a loaded machine) would otherwise first read the list after m1 already left.
        try await waitFor(timeout: .seconds(20)) { !watch.stdout.isEmpty }
        let member = try CommandRunner.start(
            ["run", "--store", url, "--key", key, "--name", "m1", "--address", address, "--refresh", "1s"])
        defer {
            member.signal(SIGKILL)
            watch.signal(SIGKILL)
            Task { _ = try? await member.wait(); _ = try? await watch.wait() }
        }
        do {
            try await waitFor(timeout: .seconds(20)) { try await listedNames(url, key) == ["m1"] }
        } catch {
            Issue.record("member output: \(member.stdout) \(member.stderr); list: \(try await listedNames(url, key))")
            throw error
        }
        try await waitFor { member.stdout.contains("m1 ready") }
        let node = ClusterNode(name: "m1", address: address)
        #expect(await TCPProbe(timeout: .seconds(3)).probe(node, timeout: .seconds(3)))
        #expect(await HTTPProbe(path: "/health", timeout: .seconds(3)).probe(node, timeout: .seconds(3)))

        member.signal(SIGTERM)
        let result = try await member.wait(timeout: .seconds(15))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try await listedNames(url, key).isEmpty)
        #expect(await TCPProbe(timeout: .seconds(3)).probe(node, timeout: .seconds(3)) == false)

        // watch saw the list appear with m1 and then lose it.
        try await waitFor {
            let lines = watch.stdout.split(separator: "\n")
            return lines.contains { $0.contains("\"name\":\"m1\"") } && lines.last.map { $0.contains("\"nodes\":[]") } == true
        }
        watch.signal(SIGTERM)
        _ = try await watch.wait(timeout: .seconds(10))
    }
}
