import Etcd
import Foundation
import StoreTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// etcd members a test starts for itself (so it may kill, restart or reconfigure them without
/// disturbing the shared stores), each with its data in a fresh directory, on loopback ports
/// `basePort + 2·i` (client) and `basePort + 2·i + 1` (peer).
final class PrivateEtcd: @unchecked Sendable {
    struct Member {
        var name: String
        var clientPort: Int
        var peerPort: Int
        var arguments: [String]
        var process: Process?
    }

    let directory: URL
    private(set) var members: [Member]
    let scheme: String
    // Only the test's own task touches `members` (tests using PrivateEtcd are serialized).

    /// Starts `count` members and waits until each answers; `extraArguments` go to every member
    /// (e.g. TLS or auth-token flags); `scheme` is the client URL scheme ("http" or "https").
    init(count: Int, basePort: Int, extraArguments: [String] = [], scheme: String = "http",
         curlTLSArguments: [String] = []) async throws {
        self.curlTLSArguments = curlTLSArguments
        let base = URL(fileURLWithPath: TestStores.storesDirectory ?? NSTemporaryDirectory())
        directory = base.appendingPathComponent("private-etcd-\(basePort)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.scheme = scheme
        let initial = (0..<count).map { "p\(basePort)m\($0)=http://127.0.0.1:\(basePort + 2 * $0 + 1)" }.joined(separator: ",")
        members = (0..<count).map { i in
            let name = "p\(basePort)m\(i)"
            let client = basePort + 2 * i
            let peer = client + 1
            return Member(name: name, clientPort: client, peerPort: peer, arguments: [
                "--name", name, "--data-dir", "", // filled in below
                "--listen-client-urls", "\(scheme)://127.0.0.1:\(client)",
                "--advertise-client-urls", "\(scheme)://127.0.0.1:\(client)",
                "--listen-peer-urls", "http://127.0.0.1:\(peer)",
                "--initial-advertise-peer-urls", "http://127.0.0.1:\(peer)",
                "--initial-cluster", initial, "--initial-cluster-token", "private-\(basePort)",
                "--initial-cluster-state", "new", "--heartbeat-interval", "100", "--election-timeout", "1000",
                "--unsafe-no-fsync", "--logger", "zap", "--log-outputs", "stderr",
            ] + extraArguments)
        }
        // Never talk to somebody else's server: every port must be free before we start.
        for member in members {
            for port in [member.clientPort, member.peerPort] where Self.portInUse(port) {
                throw EtcdError(code: .unavailable, message: "port \(port) on 127.0.0.1 is already in use — PrivateEtcd needs \(basePort)…\(basePort + 2 * count - 1) free")
            }
        }
        for i in members.indices {
            members[i].arguments[3] = directory.appendingPathComponent(members[i].name).path
            try start(i)
        }
        for i in members.indices { try await waitHealthy(i) }
    }

    /// The client URLs of every member.
    var endpoints: [String] { members.map { "\(scheme)://127.0.0.1:\($0.clientPort)" } }

    /// Starts member `i` (again), with the data it had.
    func start(_ i: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        process.arguments = members[i].arguments
        let log = directory.appendingPathComponent("\(members[i].name).log")
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        members[i].process = process
    }

    /// Waits until member `i` answers /health (45 s at most).
    func waitHealthy(_ i: Int, timeout: Duration = .seconds(45)) async throws {
        let deadline = ContinuousClock.now + timeout
        let port = members[i].clientPort
        while ContinuousClock.now < deadline {
            guard members[i].process?.isRunning == true else {
                throw EtcdError(code: .unavailable, message: "private etcd member \(members[i].name) exited — see its log in \(directory.path)")
            }
            if healthy(port: port) { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw EtcdError(code: .unavailable, message: "private etcd member \(members[i].name) did not become healthy — see \(directory.path)")
    }

    private func healthy(port: Int) -> Bool {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        var arguments = ["-fsS", "--max-time", "2"]
        if scheme == "https" { arguments += ["-k"] + curlTLSArguments }
        curl.arguments = arguments + ["\(scheme)://127.0.0.1:\(port)/health"]
        let pipe = Pipe()
        curl.standardOutput = pipe
        curl.standardError = FileHandle.nullDevice
        do { try curl.run() } catch { return false }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        return String(decoding: data, as: UTF8.self).contains("\"health\":\"true\"")
    }

    /// True when something accepts TCP connections on 127.0.0.1:`port`.
    static func portInUse(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc == 0
    }

    /// Client certificate arguments curl needs for a health check of an mTLS member.
    let curlTLSArguments: [String]

    /// SIGKILLs member `i` and reaps it.
    func kill(_ i: Int) {
        guard let process = members[i].process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        Glibc.kill(process.processIdentifier, SIGCONT)
        process.waitUntilExit()
        members[i].process = nil
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) member `i`: a frozen member keeps its connections
    /// open but answers nothing, like a partitioned host.
    /// SIGSTOPs (or SIGCONTs) member `i` and returns once the kernel reports it stopped (or
    /// running), at most 2 s later: a stop signal takes effect when each of etcd's threads next
    /// enters the kernel, and a test must not send its next call before that.
    func freeze(_ i: Int, _ frozen: Bool = true) {
        guard let process = members[i].process else { return }
        let pid = process.processIdentifier
        Glibc.kill(pid, frozen ? SIGSTOP : SIGCONT)
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return }  // gone: nothing to wait for
            let state = stat[stat.index(after: close)...].split(separator: " ").first
            if (state == "T") == frozen { return }
            usleep(5_000)
        }
    }

    /// SIGTERMs member `i` (etcd then shuts down gracefully, sending GOAWAY) and reaps it.
    func terminate(_ i: Int) {
        guard let process = members[i].process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        members[i].process = nil
    }

    /// Ends every member and removes the data.
    func stop() {
        for i in members.indices { kill(i) }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit {
        for member in members where member.process?.isRunning == true {
            Glibc.kill(member.process!.processIdentifier, SIGKILL)
        }
    }
}

/// Runs `etcdctl` with `arguments` (ETCDCTL_API=3) and returns its standard output.
@discardableResult
func etcdctl(_ arguments: [String], input: String? = nil) throws -> (status: Int32, output: Data) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/etcdctl")
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["ETCDCTL_API"] = "3"
    process.environment = environment
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, data)
}
