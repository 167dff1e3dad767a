#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging


/// Whole-run log capture for the secret scan of `scripts/test.sh`.
///
/// With `AUTOCLUSTER_TEST_LOG_FILE` set, the first use of ``TestStores`` (every store test reaches
/// it, most already in their `.enabled(if:)` traits, before any test body runs) bootstraps
/// swift-log so that every `Logger` made from then on writes every line — at `.trace`, whatever
/// level the logger asks for — to that file, and still prints what the logger's own level lets
/// through to stdout as before. Test log captures made with their own factory forward their lines
/// with ``record(_:)``; ``CommandRunner`` points the `autocluster` subprocesses at the same file
/// (`AUTOCLUSTER_TRACE_LOG`) and appends their stdout and stderr. `scripts/scan-secrets.sh` then
/// searches the file (and the test output) for every secret.
///
/// Writes are buffered (64 KiB) under a lock and flushed at exit.
public enum TestLogCapture {
    /// The capture file, when capturing was requested.
    public static var path: String? {
        guard let value = getenv("AUTOCLUSTER_TEST_LOG_FILE") else { return nil }
        let path = String(cString: value)
        return path.isEmpty ? nil : path
    }

    /// Whether lines are being captured in this process.
    public static var isActive: Bool { installed }

    /// Bootstraps the capture once per process when `AUTOCLUSTER_TEST_LOG_FILE` is set.
    public static func installIfRequested() { _ = installed }

    private static let installed: Bool = {
        guard let path else { return false }
        guard sink.openFile(path) else { return false }
        atexit { TestLogCapture.flush() }
        sink.append("=== autocluster test log capture, pid \(getpid())\n")
        LoggingSystem.bootstrap { label in CaptureLogHandler(label: label) }
        return true
    }()

    private static let sink = Sink()

    /// Appends one line (a newline is added) to the capture, when it is active.
    public static func record(_ line: String) {
        guard installed else { return }
        sink.append(line.hasSuffix("\n") ? line : line + "\n")
    }

    /// Writes the buffered lines out.
    public static func flush() { sink.flush() }

    /// One log event as a capture line: `level label [source] message key=value… error=…`, the
    /// handler's `metadata` merged with the event's (the event's win), keys sorted.
    public static func line(_ event: LogEvent, label: String, metadata: Logger.Metadata) -> String {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let error = event.error.map { " error=\($0)" } ?? ""
        return "\(event.level) \(label) [\(event.source)] \(event.message) \(rendered)\(error)"
    }

    private final class Sink: Sendable {
        private struct State {
            var fd: Int32 = -1
            var buffer: [UInt8] = []
        }
        private let state = TestMutex(State())

        func openFile(_ path: String) -> Bool {
            state.withLock { state in
                state.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
                return state.fd >= 0
            }
        }

        func append(_ text: String) {
            state.withLock { state in
                state.buffer.append(contentsOf: text.utf8)
                if state.buffer.count >= 64 * 1024 { Self.drain(&state) }
            }
        }

        func flush() { state.withLock { Self.drain(&$0) } }

        private static func drain(_ state: inout State) {
            guard state.fd >= 0 else { return }
            var bytes = state.buffer[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(state.fd, $0.baseAddress, $0.count) }
                if written <= 0 { break }
                bytes = bytes.dropFirst(written)
            }
            state.buffer.removeAll(keepingCapacity: true)
        }
    }
}

/// Every line to the capture file; the lines at or above the level the logger asked for also to
/// stdout, as swift-log's default handler would.
struct CaptureLogHandler: LogHandler {
    let label: String
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    /// The level the code asked for (default `.info`, swift-log's).
    private var requestedLevel: Logger.Level = .info

    init(label: String) { self.label = label }

    /// Always `.trace` to the logger, so every line reaches ``log(event:)``.
    var logLevel: Logger.Level {
        get { .trace }
        set { requestedLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        TestLogCapture.record(TestLogCapture.line(event, label: label, metadata: merged))
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        if event.level >= requestedLevel {
            var stream = StreamLogHandler.standardOutput(label: label)
            stream.metadataProvider = nil
            stream.metadata = merged
            var plain = event
            plain.metadata = nil
            stream.log(event: plain)
        }
    }
}
