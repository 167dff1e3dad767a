import Foundation
import Logging
import NIOConcurrencyHelpers

/// `$AUTOCLUSTER_TRACE_LOG`: a file that gets every log line at trace level, whatever
/// `--log-level` says (which still decides what goes to stderr). For debugging a deployment,
/// and for the test suite's whole-run secret scan. Secrets are never logged, so the file holds none.
final class TraceFile: Sendable {
    private let fd: NIOLockedValueBox<Int32>
    private static let files = NIOLockedValueBox<[String: TraceFile]>([:])

    private init(fd: Int32) { self.fd = NIOLockedValueBox(fd) }

    /// The one writer of `path` in this process (nil when it cannot be opened).
    static func shared(_ path: String) -> TraceFile? {
        files.withLockedValue { files in
            if let file = files[path] { return file }
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return nil }
            let file = TraceFile(fd: fd)
            files[path] = file
            return file
        }
    }

    /// Appends one line with a single write (O_APPEND keeps lines of several processes whole).
    func append(_ line: String) {
        fd.withLockedValue { fd in
            var bytes = Array((line + "\n").utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if written <= 0 { return }
                bytes = bytes.dropFirst(written)
            }
        }
    }
}

/// Every line to the trace file; those at the requested level or above also to stderr.
struct TraceTeeLogHandler: LogHandler {
    let label: String
    let file: TraceFile
    private var requestedLevel: Logger.Level = .info
    /// The stderr writer, made once; it holds the handler's metadata (and keeps it rendered).
    private var stderr: StreamLogHandler

    init(label: String, file: TraceFile) {
        self.label = label
        self.file = file
        stderr = StreamLogHandler.standardError(label: label)
        stderr.logLevel = .trace
    }

    var metadata: Logger.Metadata {
        get { stderr.metadata }
        set { stderr.metadata = newValue }
    }

    /// `.trace` towards the logger, so every line arrives here; setting it sets the stderr level.
    var logLevel: Logger.Level {
        get { .trace }
        set { requestedLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let error = event.error.map { " error=\($0)" } ?? ""
        file.append("\(event.level) \(label) pid=\(getpid()) [\(event.source)] \(event.message) \(rendered)\(error)")
        if event.level >= requestedLevel {
            stderr.log(event: event)
        }
    }
}
