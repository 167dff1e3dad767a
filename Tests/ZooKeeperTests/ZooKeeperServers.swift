import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// ZooKeeper servers a test starts for itself (scripts/start-zookeeper.sh) so it can kill and
/// restart them without disturbing the shared servers other suites use.
final class ZooKeeperServers: Sendable {
    let directory: String
    let standalonePort: Int
    let ensembleBase: Int
    let environment: [String: String]

    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    private init(directory: String, standalonePort: Int, ensembleBase: Int) {
        self.directory = directory
        self.standalonePort = standalonePort
        self.ensembleBase = ensembleBase
        var environment = ProcessInfo.processInfo.environment
        environment["AUTOCLUSTER_STORES_DIR"] = directory
        environment["ZOOKEEPER_PORT"] = "\(standalonePort)"
        environment["ZOOKEEPER_ENSEMBLE_BASE_PORT"] = "\(ensembleBase)"
        self.environment = environment
    }

    /// Starts a standalone server, or a 3-server ensemble; with `readOnlyMode` a server cut off
    /// from its quorum serves read-only clients (start-zookeeper.sh --read-only-mode).
    static func start(ensemble: Bool, readOnlyMode: Bool = false) async throws -> ZooKeeperServers {
        let servers = ZooKeeperServers(
            directory: NSTemporaryDirectory() + "autocluster-zk-\(getpid())-\(UUID().uuidString.prefix(6))",
            standalonePort: try freePorts { [$0] }, ensembleBase: try freePorts { base in
                (0..<3).flatMap { [base + $0, base + 700 + $0, base + 1700 + $0] }
            })
        let (status, output) = try await servers.script(
            "start-zookeeper.sh", (ensemble ? ["--ensemble", "--no-standalone"] : []) + (readOnlyMode ? ["--read-only-mode"] : []))
        guard status == 0 else {
            _ = try? await servers.script("stop-stores.sh", [])
            throw ScriptFailure(description: "start-zookeeper.sh failed (\(status)): \(output)")
        }
        return servers
    }

    var standaloneConnect: String { "127.0.0.1:\(standalonePort)" }
    var ensembleConnect: String { (0..<3).map { "127.0.0.1:\(ensembleBase + $0)" }.joined(separator: ",") }
    /// The server name (for store-ctl.sh) of an ensemble client address `127.0.0.1:PORT`.
    func ensembleName(of address: String) -> String? {
        guard let port = address.split(separator: ":").last.flatMap({ Int($0) }) else { return nil }
        let index = port - ensembleBase
        return (0..<3).contains(index) ? "zookeeper\(index + 1)" : nil
    }

    /// `store-ctl.sh kill NAME SIGNAL`.
    func kill(_ name: String, signal: String = "KILL") async throws {
        let (status, output) = try await script("store-ctl.sh", ["kill", name, signal])
        guard status == 0 else { throw ScriptFailure(description: "store-ctl.sh kill \(name) \(signal): \(output)") }
    }

    /// `store-ctl.sh start NAME`: starts it again with its data and waits until it answers.
    func restart(_ name: String) async throws {
        let (status, output) = try await script("store-ctl.sh", ["start", name])
        guard status == 0 else { throw ScriptFailure(description: "store-ctl.sh start \(name): \(output)") }
    }

    func stop() async {
        _ = try? await script("stop-stores.sh", [])
        try? FileManager.default.removeItem(atPath: directory)
    }

    struct ScriptFailure: Error, CustomStringConvertible { let description: String }

    /// Runs a script of scripts/ with posix_spawn on its own thread (waitpid blocks), its output
    /// in a file: daemons it forks keep no pipe of ours open.
    func script(_ name: String, _ arguments: [String]) async throws -> (Int32, String) {
        let path = Self.repository + "/scripts/" + name
        let outputPath = NSTemporaryDirectory() + "zk-script-\(UUID().uuidString).log"
        let environment = self.environment.map { "\($0.key)=\($0.value)" }
        let status: Int32 = await withCheckedContinuation { continuation in
            Thread {
                var actions = posix_spawn_file_actions_t()
                posix_spawn_file_actions_init(&actions)
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
                posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                posix_spawn_file_actions_adddup2(&actions, 1, 2)
                let argv = ([path] + arguments).map { strdup($0) } + [nil]
                let envp = environment.map { strdup($0) } + [nil]
                // The child must not inherit this thread's blocked signals or handlers: with
                // SIGALRM blocked, `timeout` in the scripts never fires, and the JVM hangs.
                var attributes = posix_spawnattr_t()
                posix_spawnattr_init(&attributes)
                var empty = sigset_t()
                sigemptyset(&empty)
                var all = sigset_t()
                sigfillset(&all)
                posix_spawnattr_setsigmask(&attributes, &empty)
                posix_spawnattr_setsigdefault(&attributes, &all)
                posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
                var pid = pid_t()
                var rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
                posix_spawnattr_destroy(&attributes)
                posix_spawn_file_actions_destroy(&actions)
                argv.forEach { free($0) }
                envp.forEach { free($0) }
                if rc == 0 {
                    var status: Int32 = 0
                    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                    rc = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                } else {
                    rc = 127
                }
                continuation.resume(returning: rc)
            }.start()
        }
        let output = Self.readFile(outputPath)
        try? FileManager.default.removeItem(atPath: outputPath)
        return (status, output)
    }

    /// The file's text, read with POSIX calls (Foundation's String(contentsOfFile:) leaks its
    /// buffer on Linux, which fails `--sanitize=address` runs).
    private static func readFile(_ path: String) -> String {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A random base port for which every port `ports(base)` is free on 127.0.0.1.
    private static func freePorts(_ ports: (Int) -> [Int]) throws -> Int {
        for _ in 0..<200 {
            // Below the ephemeral range (32768+), where the suite's own client connections
            // leave ports in TIME_WAIT, and clear of the other suites' fixed ports.
            let base = Int.random(in: 30000..<31000)
            if ports(base).allSatisfy(isFree) { return base }
        }
        throw ScriptFailure(description: "no free ports found")
    }

    private static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // As a listening server would: a port whose old connections are in TIME_WAIT is usable.
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
