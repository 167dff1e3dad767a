import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the built `autocluster` executable (posix_spawn + waitpid, output to files — no
/// Foundation `Process` waiting on a pipe), with a deadline after which it is killed. With the
/// whole-run log capture on, the command writes its trace log into it and its output is appended.
public struct CommandRunner {
    /// How a run ended and what it printed.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var stderrLines: [Substring] { stderr.split(separator: "\n") }
    }

    /// The runner itself failed (spawn, deadline).
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// `.build/debug/autocluster`, beside the test bundle.
    public static var executable: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("autocluster").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return ".build/debug/autocluster"
    }

    /// A started process: its pid and where its output goes.
    public final class Running: @unchecked Sendable {  // only used from the test task that started it
        public let pid: pid_t
        let outPath: String
        let errPath: String
        var finished: Int32?

        init(pid: pid_t, outPath: String, errPath: String) {
            self.pid = pid
            self.outPath = outPath
            self.errPath = errPath
        }

        public var stdout: String { CommandRunner.readUTF8(outPath) }
        public var stderr: String { CommandRunner.readUTF8(errPath) }

        public func signal(_ sig: Int32) { if finished == nil { kill(pid, sig) } }

        /// Waits for the exit, blocking the calling thread.
        public func waitSync() throws -> Result {
            if finished == nil {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let low = status & 0x7f
                finished = low == 0 ? (status >> 8) & 0xff : 128 + low
            }
            return Result(status: finished!, stdout: stdout, stderr: stderr)
        }

        /// Waits for the exit; kills it (SIGKILL) after `timeout`.
        public func wait(timeout: Duration = .seconds(30)) async throws -> Result {
            let deadline = ContinuousClock.now + timeout
            while finished == nil {
                var status: Int32 = 0
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid {
                    // WIFEXITED / WEXITSTATUS, WIFSIGNALED → 128 + signal
                    let low = status & 0x7f
                    finished = low == 0 ? (status >> 8) & 0xff : 128 + low
                    break
                }
                if ContinuousClock.now > deadline {
                    kill(pid, SIGKILL)
                    var ignored: Int32 = 0
                    waitpid(pid, &ignored, 0)
                    finished = -1
                    throw Failure(description: "autocluster did not finish within \(timeout); stderr: \(stderr)")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let result = Result(status: finished!, stdout: stdout, stderr: stderr)
            TestLogCapture.record("=== autocluster (pid \(pid)) exited \(result.status); stdout:\n\(result.stdout)\n=== stderr:\n\(result.stderr)")
            return result
        }
    }

    /// The file's text ("" when it is missing or not UTF-8). Read with POSIX calls: Foundation's
    /// `String(contentsOfFile:)` leaks a 4 KiB buffer per empty file (AddressSanitizer's leak
    /// check reported 54 of them from this runner in a whole-suite run).
    static func readUTF8(_ path: String) -> String {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[..<n]
        }
        return String(validating: bytes, as: UTF8.self) ?? ""
    }

    /// Starts `autocluster ARGS` with `environment` added to this process's environment.
    public static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> Running {
        try start(raw: arguments.map { Array($0.utf8) }, environment: environment)
    }

    /// Starts another program (an absolute path) with `arguments`, output to files like
    /// `autocluster`'s.
    public static func start(program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Running {
        try start(raw: arguments.map { Array($0.utf8) }, environment: environment, executable: program)
    }

    /// Runs another program to completion, blocking the calling thread (for short commands).
    public static func runSync(program: String, _ arguments: [String]) throws -> Result {
        try start(program: program, arguments).waitSync()
    }

    /// Starts `autocluster` with arguments given as raw bytes (which need not be UTF-8).
    public static func start(raw arguments: [[UInt8]], environment: [String: String] = [:], executable: String = executable) throws -> Running {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("autocluster-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let outPath = dir.appendingPathComponent("stdout").path
        let errPath = dir.appendingPathComponent("stderr").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var env = ProcessInfo.processInfo.environment
        // The command's own trace log joins the whole-run capture (TestLogCapture).
        TestLogCapture.installIfRequested()
        if TestLogCapture.isActive, let capture = TestLogCapture.path { env["AUTOCLUSTER_TRACE_LOG"] = capture }
        for (k, v) in environment { env[k] = v }
        let argv = ([Array(executable.utf8)] + arguments).map { bytes in
            (bytes + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { strdup($0.baseAddress!) } }
        } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard rc == 0 else { throw Failure(description: "posix_spawn \(executable) failed: \(rc)") }
        return Running(pid: pid, outPath: outPath, errPath: errPath)
    }

    /// Runs `autocluster ARGS` to completion.
    public static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(30)) async throws -> Result {
        try await start(arguments, environment: environment).wait(timeout: timeout)
    }

    /// Runs `autocluster` with raw-byte arguments to completion.
    public static func run(raw arguments: [[UInt8]], environment: [String: String] = [:], timeout: Duration = .seconds(30)) async throws -> Result {
        try await start(raw: arguments, environment: environment).wait(timeout: timeout)
    }
}
