import Foundation
import StoreTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Real ZooKeeper and etcd servers a fault test starts for itself — on its own loopback ports
/// (28000–28999, never the shared stores' ports) and in its own `/tmp/ac-faults-*` directory —
/// so it can SIGKILL, SIGSTOP and restart them without disturbing any other suite. Each server
/// is one child process (etcd, or java for ZooKeeper; neither forks), signalled only by its pid.
final class TestServer: @unchecked Sendable {
    // Only the owning (serialized) test's task uses a TestServer; no concurrent access.
    enum Kind { case etcd, zooKeeper }

    let kind: Kind
    let name: String
    let clientPort: Int
    let directory: String
    private let executable: String
    private let arguments: [String]
    private let tls: Bool
    private(set) var pid: pid_t = 0

    private init(kind: Kind, name: String, clientPort: Int, directory: String, executable: String, arguments: [String],
                 tls: Bool = false) {
        self.tls = tls
        self.kind = kind
        self.name = name
        self.clientPort = clientPort
        self.directory = directory
        self.executable = executable
        self.arguments = arguments
    }

    /// The directory of one test's servers, created empty.
    static func makeDirectory(_ tag: String) throws -> String {
        let path = "/tmp/ac-faults-\(tag)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// `count` etcd members on client ports `basePort + 2·i`, peers one above.
    /// With `tls` (certificate and key files) the members serve HTTPS to clients.
    static func etcdCluster(count: Int, basePort: Int, directory: String,
                            tls: (certificate: String, key: String)? = nil) -> [TestServer] {
        let scheme = tls == nil ? "http" : "https"
        let tlsArguments = tls.map { ["--cert-file", $0.certificate, "--key-file", $0.key] } ?? []
        let initial = (0..<count).map { "f\(basePort)m\($0)=http://127.0.0.1:\(basePort + 2 * $0 + 1)" }.joined(separator: ",")
        return (0..<count).map { i in
            let name = "f\(basePort)m\(i)"
            let client = basePort + 2 * i
            return TestServer(kind: .etcd, name: name, clientPort: client, directory: directory + "/" + name,
                              executable: "/usr/bin/etcd", arguments: [
                "--name", name, "--data-dir", directory + "/" + name + "/data",
                "--listen-client-urls", "\(scheme)://127.0.0.1:\(client)", "--advertise-client-urls", "\(scheme)://127.0.0.1:\(client)",
                "--listen-peer-urls", "http://127.0.0.1:\(client + 1)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(client + 1)",
                "--initial-cluster", initial, "--initial-cluster-token", "faults-\(basePort)", "--initial-cluster-state", "new",
                "--heartbeat-interval", "100", "--election-timeout", "1000",
                "--unsafe-no-fsync", "--logger", "zap", "--log-outputs", "stderr",
            ] + tlsArguments, tls: tls != nil)
        }
    }

    /// `count` ZooKeeper servers on client ports `basePort + i` (quorum +100, election +200);
    /// one standalone server when `count` is 1.
    static func zooKeeperEnsemble(count: Int, basePort: Int, directory: String) throws -> [TestServer] {
        try (0..<count).map { i in
            let name = "zk\(basePort)s\(i)"
            let dir = directory + "/" + name
            try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
            var config = """
                tickTime=500
                initLimit=20
                syncLimit=10
                dataDir=\(dir)/data
                clientPort=\(basePort + i)
                clientPortAddress=127.0.0.1
                maxClientCnxns=0
                4lw.commands.whitelist=*
                admin.enableServer=false

                """
            if count > 1 {
                try "\(i + 1)\n".write(toFile: dir + "/data/myid", atomically: true, encoding: .utf8)
                for j in 0..<count {
                    config += "server.\(j + 1)=127.0.0.1:\(basePort + 100 + j):\(basePort + 200 + j)\n"
                }
            }
            try config.write(toFile: dir + "/zoo.cfg", atomically: true, encoding: .utf8)
            return TestServer(kind: .zooKeeper, name: name, clientPort: basePort + i, directory: dir,
                              executable: "/usr/bin/java", arguments: [
                "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dzookeeper.forceSync=no", "-Dzookeeper.extendedTypesEnabled=true",
                "-Dzookeeper.log.dir=\(dir)", "-Dzookeeper.root.logger=INFO,CONSOLE",
                "-cp", "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar",
                "org.apache.zookeeper.server.quorum.QuorumPeerMain", dir + "/zoo.cfg",
            ])
        }
    }

    var address: String { "127.0.0.1:\(clientPort)" }
    var endpoint: String { "http://127.0.0.1:\(clientPort)" }
    var isRunning: Bool { pid != 0 }

    /// Starts the server (again, with the data it had) with posix_spawn, output to `log`.
    func start() throws {
        precondition(pid == 0, "\(name) is already running")
        // A leftover server on our port would answer in our server's place (and ignore our signals).
        guard !portAcceptsConnections(clientPort) else {
            throw TestServerError("port \(clientPort) on 127.0.0.1 is already in use — a leftover server? (ports 28000-28999 are the fault tests')")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, directory + "/log", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, nil, argv, environ)
        guard rc == 0 else { throw TestServerError("posix_spawn \(executable) failed: \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// Sends `signal`; for SIGKILL/SIGTERM also reaps the process.
    func signal(_ signal: Int32) {
        guard pid != 0 else { return }
        kill(pid, signal)
        if signal == SIGKILL || signal == SIGTERM {
            if signal == SIGTERM { kill(pid, SIGCONT) }
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            pid = 0
        }
    }

    /// The process state letter from /proc (R, S, T for stopped, …), nil when not running.
    var processState: Character? {
        guard pid != 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(close, offsetBy: 2)...].first
    }

    /// SIGSTOPs the server and waits (2 s at most) until the kernel reports it stopped.
    func freeze() async -> Bool {
        signal(SIGSTOP)
        return await waitUntil(.seconds(2)) { processState == "T" }
    }

    /// SIGKILLs and reaps the server.
    func kill9() { signal(SIGKILL) }

    /// Waits until the server answers (etcd: /health; ZooKeeper: `srvr` shows a mode).
    func waitHealthy(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isHealthy() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestServerError("\(name) did not become healthy within \(timeout) — see \(directory)/log")
    }

    func isHealthy() -> Bool {
        switch kind {
        case .zooKeeper: return zooKeeperMode() != nil
        case .etcd where tls:
            // No TLS client here: a member that has logged "serving client traffic securely" is up.
            let log = (try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? ""
            return log.contains("serving client traffic securely")
        case .etcd:
            guard let answer = httpGet(port: clientPort, path: "/health") else { return false }
            return answer.contains("\"health\":\"true\"")
        }
    }

    /// ZooKeeper's `srvr` mode: "leader", "follower" or "standalone"; nil when not serving.
    func zooKeeperMode() -> String? {
        guard let answer = rawExchange(port: clientPort, send: "srvr") else { return nil }
        for line in answer.split(separator: "\n") where line.hasPrefix("Mode: ") {
            return String(line.dropFirst(6))
        }
        return nil
    }

    /// Ends every server and removes the directory.
    static func stopAll(_ servers: [TestServer], removing directory: String) {
        for server in servers { server.kill9() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit {
        if pid != 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}

struct TestServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Connects to 127.0.0.1:`port`, writes `send`, reads until the peer closes (2 s limits).
func rawExchange(port: Int, send: String) -> String? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let bytes = Array(send.utf8)
    guard write(fd, bytes, bytes.count) == bytes.count else { return nil }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while received.count < 1 << 20 {
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        received += buffer[0..<n]
    }
    return String(decoding: received, as: UTF8.self)
}

/// Whether something on 127.0.0.1 accepts connections on `port`.
func portAcceptsConnections(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// A minimal HTTP/1.0 GET on loopback (for etcd's /health).
func httpGet(port: Int, path: String) -> String? {
    rawExchange(port: port, send: "GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
}
