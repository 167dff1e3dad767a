import AutoCluster
import Foundation
import NodeList
import StoreTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real partitions: six `autocluster run` members, each in a network namespace this test makes,
/// joined by a bridge in another; the store (a real etcd or ZooKeeper) in its own namespace,
/// reachable from every member. Links between members are cut with blackhole routes (both
/// directions) for a bounded time and healed; every address is one of these namespaces'.
///
/// Member settings: refresh 1 s, grace 2 s, survivor delay 3 s, probe timeout 300 ms.
/// Slack on every bound: 2 s (process start-up and scheduling on a 2-core machine).
@Suite(.serialized) struct PartitionTests {
    static var ip: String? { ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } }
    static let available = getuid() == 0 && ip != nil
    static let refresh = 1.0, grace = 2.0, slack = 2.0

    @Test(.enabled(if: available || TestStores.required), arguments: ["etcd", "zookeeper"])
    func partitionsSweepOnlyTheMinorityAndHeal(_ store: String) async throws {
        guard let ip = Self.ip, getuid() == 0 else {
            throw CommandRunner.Failure(description: "partition tests need root and iproute2's ip, and AUTOCLUSTER_REQUIRE_STORES=1 requires them")
        }
        let net = try TestNet(ip: ip, members: 6)
        defer { net.tearDown() }
        let url = try net.startStore(store)
        // The store answers (a JVM takes a while to start on a loaded 2-core machine).
        try await net.waitFor(seconds: 60, "\(store) answers in its namespace") { try await net.listed(url) != nil }
        for i in 1...6 { try net.startMember(i, url: url, refresh: Self.refresh, grace: Self.grace) }
        let all = Set((1...6).map { "m\($0)" })

        // Everyone listed, once.
        try await net.waitFor(seconds: 20, "all six listed") { try await net.listed(url) == all }

        // 3/3: neither half is a majority — nothing is swept, and the list goes quiet.
        net.partition([1, 2, 3], [4, 5, 6])
        try await Task.sleep(for: .seconds(6))
        var watch = try net.startWatch(url)
        try await Task.sleep(for: .seconds(6))
        #expect(watch.updates() <= 1, "\(store) 3/3: \(watch.updates() - 1) writes after the split had stood 6 s")
        watch.stop()
        #expect(try await net.listed(url) == all, "a half swept the other")
        net.healAll()
        try await Task.sleep(for: .seconds(3))
        #expect(try await net.listedOnce(url) == all)

        // 4/2: the two are swept (within grace + 2 refreshes + slack), the four never; then quiet.
        net.partition([1, 2, 3, 4], [5, 6])
        try await net.waitFor(seconds: Self.grace + 2 * Self.refresh + Self.slack, "4/2: m5 and m6 swept") {
            try await net.listed(url) == ["m1", "m2", "m3", "m4"]
        }
        try await Task.sleep(for: .seconds(4))
        watch = try net.startWatch(url)
        try await Task.sleep(for: .seconds(5))
        #expect(watch.updates() <= 1, "\(store) 4/2: \(watch.updates() - 1) writes after the list settled")
        watch.stop()
        #expect(try await net.listed(url) == ["m1", "m2", "m3", "m4"])
        // Healed: every live node is listed again, exactly once.
        net.healAll()
        try await net.waitFor(seconds: 2 * Self.refresh + Self.slack + 2, "4/2 healed: all six listed once") {
            try await net.listedOnce(url) == all
        }

        // One node cut off: it goes, the others stay; healed, it comes back.
        net.partition([6], [1, 2, 3, 4, 5])
        try await net.waitFor(seconds: Self.grace + 2 * Self.refresh + Self.slack, "m6 cut off and swept") {
            try await net.listed(url) == ["m1", "m2", "m3", "m4", "m5"]
        }
        net.healAll()
        try await net.waitFor(seconds: 2 * Self.refresh + Self.slack + 2, "m6 back") { try await net.listedOnce(url) == all }

        // A SIGKILLed member goes within sweepGracePeriod + 2 refresh intervals (+ slack).
        net.kill(3)
        try await net.waitFor(seconds: Self.grace + 2 * Self.refresh + Self.slack, "SIGKILLed m3 swept") {
            try await net.listed(url) == all.subtracting(["m3"])
        }
    }
}

/// A bridge namespace, a store namespace and one namespace per member, with addresses
/// 10.213.N.0/24 that exist only inside them; everything is removed by ``tearDown()``.
final class TestNet: @unchecked Sendable {  // used only by the test task that made it
    let ip: String
    let prefix: String
    let subnet: String
    var namespaces: [String] = []
    var processes: [Int: CommandRunner.Running] = [:]
    var others: [CommandRunner.Running] = []
    var cuts: [(Int, Int)] = []
    let directory: URL

    init(ip: String, members: Int) throws {
        self.ip = ip
        let id = Int(getpid()) % 10000
        prefix = "acp\(id)"
        subnet = "10.213.\(id % 250)"
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("autocluster-partition-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let bridge = prefix + "br"
        try addNamespace(bridge)
        try sh(["netns", "exec", bridge, ip, "link", "add", "br0", "type", "bridge"])
        try sh(["netns", "exec", bridge, ip, "link", "set", "br0", "up"])
        try addHost(prefix + "s", octet: 1)
        for i in 1...members { try addHost(prefix + "m\(i)", octet: 10 + i) }
    }

    func address(member i: Int) -> String { "\(subnet).\(10 + i)" }
    var storeAddress: String { "\(subnet).1" }

    @discardableResult
    func sh(_ arguments: [String]) throws -> CommandRunner.Result {
        let result = try CommandRunner.runSync(program: ip, arguments)
        guard result.status == 0 else {
            throw CommandRunner.Failure(description: "ip \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
        return result
    }

    private func addNamespace(_ name: String) throws {
        try sh(["netns", "add", name])
        namespaces.append(name)
        try sh(["netns", "exec", name, ip, "link", "set", "lo", "up"])
    }

    private func addHost(_ name: String, octet: Int) throws {
        try addNamespace(name)
        let inside = "v\(name.suffix(6))", outside = "p\(name.suffix(6))"
        try sh(["link", "add", inside, "type", "veth", "peer", "name", outside])
        try sh(["link", "set", inside, "netns", name])
        try sh(["link", "set", outside, "netns", prefix + "br"])
        try sh(["netns", "exec", prefix + "br", ip, "link", "set", outside, "master", "br0", "up"])
        try sh(["netns", "exec", name, ip, "addr", "add", "\(subnet).\(octet)/24", "dev", inside])
        try sh(["netns", "exec", name, ip, "link", "set", inside, "up"])
    }

    /// Starts a real store in the store namespace; returns its store URL.
    func startStore(_ kind: String) throws -> String {
        let data = directory.appendingPathComponent("store").path
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        if kind == "etcd" {
            others.append(try CommandRunner.start(program: ip, [
                "netns", "exec", prefix + "s", "etcd", "--name", "s", "--data-dir", data,
                "--listen-client-urls", "http://\(storeAddress):2379", "--advertise-client-urls", "http://\(storeAddress):2379",
                "--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
                "--initial-cluster", "s=http://127.0.0.1:2380", "--unsafe-no-fsync", "--log-level", "error",
            ]))
            return "etcd://\(storeAddress):2379"
        }
        let config = directory.appendingPathComponent("zoo.cfg").path
        try """
            tickTime=1000
            initLimit=10
            syncLimit=5
            dataDir=\(data)
            clientPort=2181
            clientPortAddress=\(storeAddress)
            admin.enableServer=false
            """.write(toFile: config, atomically: true, encoding: .utf8)
        others.append(try CommandRunner.start(program: ip, [
            "netns", "exec", prefix + "s", "java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Dzookeeper.forceSync=no", "-Dzookeeper.root.logger=WARN,CONSOLE",
            "-cp", "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar", "org.apache.zookeeper.server.quorum.QuorumPeerMain", config,
        ]))
        return "zookeeper://\(storeAddress):2181"
    }

    func startMember(_ i: Int, url: String, refresh: Double, grace: Double) throws {
        processes[i] = try CommandRunner.start(program: ip, [
            "netns", "exec", prefix + "m\(i)", CommandRunner.executable, "run", "--store", url, "--key", "/partition",
            "--name", "m\(i)", "--address", "\(address(member: i)):7000", "--refresh", "\(Int(refresh * 1000))ms",
            "--sweep-grace", "\(Int(grace * 1000))ms", "--survivor-delay", "3s", "--probe-timeout", "300ms",
        ])
    }

    /// The listed names (as the store answers inside the store namespace), or nil if it does not.
    func listed(_ url: String) async throws -> Set<String>? {
        let names = try await entries(url)
        return names.map(Set.init)
    }

    /// The listed names when each is listed exactly once, else nil.
    func listedOnce(_ url: String) async throws -> Set<String>? {
        guard let names = try await entries(url), Set(names).count == names.count else { return nil }
        return Set(names)
    }

    private func entries(_ url: String) async throws -> [String]? {
        let result = try await CommandRunner.start(program: ip, [
            "netns", "exec", prefix + "s", CommandRunner.executable, "list", "--store", url, "--key", "/partition", "--output", "json",
        ]).wait(timeout: .seconds(10))
        guard result.status == 0, let document = try? NodeListDocument.decode(Array(result.stdout.utf8), version: 0) else { return nil }
        return document.nodes.map(\.name)
    }

    final class Watch {
        let running: CommandRunner.Running
        init(_ running: CommandRunner.Running) { self.running = running }
        /// Lists the watch printed (the first is the list as it was when the watch started).
        func updates() -> Int { running.stdout.split(separator: "\n").count }
        func stop() { running.signal(SIGKILL) }
    }

    /// `autocluster watch --output json` in the store namespace: one line per change it is told of.
    func startWatch(_ url: String) throws -> Watch {
        let running = try CommandRunner.start(program: ip, [
            "netns", "exec", prefix + "s", CommandRunner.executable, "watch", "--store", url, "--key", "/partition", "--output", "json",
        ])
        others.append(running)
        return Watch(running)
    }

    func waitFor(seconds: Double, _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        let members = processes.sorted { $0.key < $1.key }.map { "m\($0.key): \($0.value.stderr.split(separator: "\n").suffix(3).joined(separator: " | "))" }
        let detail = members.joined(separator: "\n")
        Issue.record("not within \(seconds) s: \(what)\n\(detail)")
        throw CommandRunner.Failure(description: "timed out: \(what)")
    }

    /// Cuts every link between `a` and `b` (blackhole routes on both ends).
    func partition(_ a: [Int], _ b: [Int]) {
        for x in a { for y in b { cut(x, y) } }
    }

    func cut(_ x: Int, _ y: Int) {
        _ = try? sh(["netns", "exec", prefix + "m\(x)", ip, "route", "add", "blackhole", address(member: y) + "/32"])
        _ = try? sh(["netns", "exec", prefix + "m\(y)", ip, "route", "add", "blackhole", address(member: x) + "/32"])
        cuts.append((x, y))
    }

    func healAll() {
        for (x, y) in cuts {
            _ = try? sh(["netns", "exec", prefix + "m\(x)", ip, "route", "del", "blackhole", address(member: y) + "/32"])
            _ = try? sh(["netns", "exec", prefix + "m\(y)", ip, "route", "del", "blackhole", address(member: x) + "/32"])
        }
        cuts = []
    }

    func kill(_ i: Int) { processes[i]?.signal(SIGKILL) }

    func tearDown() {
        for (_, process) in processes { process.signal(SIGKILL) }
        for process in others { process.signal(SIGKILL) }
        for process in Array(processes.values) + others { _ = try? process.waitSync() }
        for name in namespaces.reversed() { _ = try? sh(["netns", "del", name]) }
        try? FileManager.default.removeItem(at: directory)
    }
}
