import Foundation
import StoreTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A real etcd or ZooKeeper server a fault test starts for itself, on free loopback ports it
/// picks (never the shared stores' nor the 28000–28999 fault range), in its own temporary
/// directory, so it can SIGSTOP it without disturbing anybody. One child process, signalled by pid.
final class PrivateServer: @unchecked Sendable {
    // Only the owning test's task uses it.
    enum Kind { case etcd, zooKeeper }

    let kind: Kind
    let port: Int
    let directory: String
    private(set) var pid: pid_t = 0

    private init(kind: Kind, port: Int, directory: String) {
        self.kind = kind
        self.port = port
        self.directory = directory
    }

    /// `127.0.0.1:PORT`.
    var address: String { "127.0.0.1:\(port)" }

    /// A port nothing listens on now (the kernel's choice for an ephemeral bind).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddr -> Bool in
                bind(fd, sockaddr, length) == 0 && getsockname(fd, sockaddr, &length) == 0
            }
        }
        guard bound else { throw CommandRunner.Failure(description: "cannot find a free loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts a single-member etcd and waits until it is healthy.
    static func etcd() async throws -> PrivateServer {
        let port = try freePort(), peer = try freePort()
        let directory = NSTemporaryDirectory() + "ac-coordination-etcd-\(UUID().uuidString.prefix(8))"
        let server = PrivateServer(kind: .etcd, port: port, directory: directory)
        try server.spawn("/usr/bin/etcd", [
            "--name", "m", "--data-dir", directory + "/data",
            "--listen-client-urls", "http://127.0.0.1:\(port)", "--advertise-client-urls", "http://127.0.0.1:\(port)",
            "--listen-peer-urls", "http://127.0.0.1:\(peer)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(peer)",
            "--initial-cluster", "m=http://127.0.0.1:\(peer)", "--heartbeat-interval", "100", "--election-timeout", "1000",
            "--unsafe-no-fsync", "--logger", "zap", "--log-outputs", "stderr",
        ])
        try await server.waitUntil(.seconds(45)) { server.answersHTTP("/health", containing: "\"health\":\"true\"") }
        return server
    }

    /// Starts a standalone ZooKeeper (tickTime 500 ms: sessions of 1 s to 10 s) and waits until it serves.
    static func zooKeeper() async throws -> PrivateServer {
        let port = try freePort()
        let directory = NSTemporaryDirectory() + "ac-coordination-zk-\(UUID().uuidString.prefix(8))"
        let server = PrivateServer(kind: .zooKeeper, port: port, directory: directory)
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        try """
            tickTime=500
            dataDir=\(directory)/data
            clientPort=\(port)
            clientPortAddress=127.0.0.1
            maxClientCnxns=0
            4lw.commands.whitelist=*
            admin.enableServer=false

            """.write(toFile: directory + "/zoo.cfg", atomically: true, encoding: .utf8)
        try server.spawn("/usr/bin/java", [
            "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dzookeeper.forceSync=no",
            "-Dzookeeper.log.dir=\(directory)", "-Dzookeeper.root.logger=INFO,CONSOLE",
            "-cp", "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain", directory + "/zoo.cfg",
        ])
        try await server.waitUntil(.seconds(60)) { server.exchange("srvr").contains("Mode: ") }
        return server
    }

    private func spawn(_ executable: String, _ arguments: [String]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, directory + "/log", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, nil, argv, environ)
        guard rc == 0 else { throw CommandRunner.Failure(description: "posix_spawn \(executable): \(String(cString: strerror(rc)))") }
        pid = child
    }

    private func waitUntil(_ timeout: Duration, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        stop()
        throw CommandRunner.Failure(description: "the private \(kind) did not start within \(timeout) — see \(directory)/log")
    }

    /// One request/answer over a fresh TCP connection ("" on failure).
    private func exchange(_ request: String) -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { return "" }
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            answer += chunk[..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    private func answersHTTP(_ path: String, containing text: String) -> Bool {
        exchange("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").contains(text)
    }

    /// SIGSTOP: the server keeps its sockets open but answers nothing, like a frozen host.
    func freeze() { if pid != 0 { kill(pid, SIGSTOP) } }

    /// SIGCONT.
    func thaw() { if pid != 0 { kill(pid, SIGCONT) } }

    /// SIGKILLs and reaps the server and removes its directory.
    func stop() {
        guard pid != 0 else { return }
        kill(pid, SIGKILL)
        kill(pid, SIGCONT)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}
