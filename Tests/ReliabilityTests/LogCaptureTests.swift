import Foundation
import Logging
import StoreTestSupport
import Testing

/// The whole-run log capture of `scripts/test.sh` (TestLogCapture + scripts/scan-secrets.sh):
/// lines from every kind of logger the tests use, and from the `autocluster` subprocesses, land
/// in the capture file. (That the scan itself can fail is its `--self-check`, run by test.sh.)
@Suite("whole-run log capture", .enabled(if: TestLogCapture.path != nil))
struct LogCaptureTests {
    static func captured() throws -> String {
        TestLogCapture.flush()
        return try String(contentsOfFile: try #require(TestLogCapture.path), encoding: .utf8)
    }

    @Test("a plain Logger (any level), a test's LogCapture logger, and the command's trace log and output all reach the capture file")
    func everythingReachesTheCapture() async throws {
        TestLogCapture.installIfRequested()
        #expect(TestLogCapture.isActive)
        let plain = "capture-probe-plain-\(UUID().uuidString)"
        var logger = Logger(label: "reliability.capture")
        logger.logLevel = .error  // asks for errors only: the capture still gets the trace line
        logger.trace("\(plain)")
        let own = "capture-probe-own-\(UUID().uuidString)"
        LogCapture().logger("reliability.capture").debug("\(own)")
        // The etcd client logs its connection at debug; without a store, ZooKeeper's C client
        // logs its failing attempts.
        let store = TestStores.etcdEndpoints?.first.map { $0.replacingOccurrences(of: "http://", with: "etcd://") } ?? "zookeeper://127.0.0.1:1"
        let running = try CommandRunner.start(["list", "--store", store, "--key", "/capture-probe-\(UUID().uuidString)", "--log-level", "critical"])
        let result = try await running.wait()
        let text = try Self.captured()
        #expect(text.contains(plain), "a plain Logger's trace line")
        #expect(text.contains(own), "a LogCapture logger's line")
        #expect(text.contains("pid=\(running.pid) "), "the command's own trace log (AUTOCLUSTER_TRACE_LOG)")
        #expect(text.contains("=== autocluster (pid \(running.pid)) exited"), "the command's output")
        #expect(!result.stderr.contains("trace"), "--log-level still governs stderr: \(result.stderr)")
    }

    @Test("scripts/scan-secrets.sh finds a planted secret (exit 1, without printing it), passes a clean file, and refuses a capture that never ran",
          .enabled(if: TestLogCapture.path != nil))
    func theScanCanFail() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/scan-secrets.sh").path
        let directory = try TestServer.makeDirectory("scan")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A secret registered only in this scan's own secrets file, never in the real one.
        let planted = "planted-\(UUID().uuidString)"
        // And one registered with its kind, as TestSecrets.register writes it, to be found encoded.
        let token = "tok/\(UUID().uuidString)+x"
        try "\(planted)\netcd auth token\t\(token)\n".write(toFile: directory + "/secrets", atomically: true, encoding: .utf8)
        let basic = Data("root:\(token)".utf8).base64EncodedString()
        let percent = try #require(token.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        try "=== autocluster test log capture, pid 1\nAuthorization: Basic \(basic)\nGET /x?t=\(percent)\n{\"t\":\"\(token.replacingOccurrences(of: "/", with: "\\/"))\"}\n"
            .write(toFile: directory + "/encoded", atomically: true, encoding: .utf8)
        try "=== autocluster test log capture, pid 1\ninfo a line\n".write(toFile: directory + "/clean", atomically: true, encoding: .utf8)
        try "=== autocluster test log capture, pid 1\ndebug x token=\(planted) y\n".write(toFile: directory + "/leaky", atomically: true, encoding: .utf8)
        try "info no marker\n".write(toFile: directory + "/unmarked", atomically: true, encoding: .utf8)
        func scan(_ file: String) throws -> (status: Int32, stderr: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = [script, "--self-check", directory + "/" + file]
            process.environment = ["PATH": "/usr/bin:/bin", "AUTOCLUSTER_TEST_SECRETS_FILE": directory + "/secrets"]
            let stderr = directory + "/stderr-" + file
            _ = FileManager.default.createFile(atPath: stderr, contents: nil)
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
            try process.run()
            process.waitUntilExit()
            return (process.terminationStatus, try String(contentsOfFile: stderr, encoding: .utf8))
        }
        let clean = try scan("clean")
        #expect(clean.status == 0, "\(clean.stderr)")
        let leaky = try scan("leaky")
        #expect(leaky.status == 1, "\(leaky.stderr)")
        #expect(leaky.stderr.contains("leaky:2: a test secret"), "names file, line and kind: \(leaky.stderr)")
        #expect(!leaky.stderr.contains(planted), "the report does not repeat the secret")
        #expect(try scan("unmarked").status == 2, "a capture without its marker is not trusted")
        let encoded = try scan("encoded")
        #expect(encoded.status == 1, "\(encoded.stderr)")
        for (line, form) in [(2, "base64"), (3, "percent-encoded"), (4, "JSON-escaped")] {
            #expect(encoded.stderr.contains("encoded:\(line): etcd auth token (TestSecrets.register) (\(form))"),
                    "the \(form) form is found: \(encoded.stderr)")
        }
        #expect(!encoded.stderr.contains(token) && !encoded.stderr.contains(basic) && !encoded.stderr.contains(percent))
    }
}
