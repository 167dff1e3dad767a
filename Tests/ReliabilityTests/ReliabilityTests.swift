// Fault, bad-input and security tests live in this target (Tests/VERIFICATION.md lists each claim and its test).
import Foundation
import Logging
import StoreTestSupport
import Testing

/// Where the secure etcd members of `scripts/start-stores.sh --secure` are.
enum Secure {
    static var tlsDirectory: String? { TestStores.environment("AUTOCLUSTER_TLS_DIR") }
    static var tlsEndpoint: String? { TestStores.environment("ETCD_TLS_ENDPOINT") }
    static var mtlsEndpoint: String? { TestStores.environment("ETCD_MTLS_ENDPOINT") }
    static var authEndpoint: String? { TestStores.environment("ETCD_AUTH_ENDPOINT") }
    static var authUser: String? { TestStores.environment("ETCD_AUTH_USER") }
    static var authPasswordFile: String? { TestStores.environment("ETCD_AUTH_PASSWORD_FILE") }
    /// The member with both TLS (test CA) and authentication (user `authUser`).
    static var tlsAuthEndpoint: String? { TestStores.environment("ETCD_TLS_AUTH_ENDPOINT") }
    static var tlsAuthPasswordFile: String? { TestStores.environment("ETCD_TLS_AUTH_PASSWORD_FILE") }

    static var tlsEnabled: Bool { TestStores.shouldRun(tlsEndpoint) }
    static var mtlsEnabled: Bool { TestStores.shouldRun(mtlsEndpoint) }
    static var authEnabled: Bool { TestStores.shouldRun(authEndpoint) }
    static var tlsAuthEnabled: Bool { TestStores.shouldRun(tlsAuthEndpoint) }

    /// A file of the test PKI (`ca.pem`, `client-key.pem`, …).
    static func file(_ name: String) throws -> String {
        try TestStores.require(tlsDirectory, "AUTOCLUSTER_TLS_DIR") + "/" + name
    }

    /// The auth member's root password (read from the file start-stores.sh wrote).
    static func password() throws -> String {
        let path = try TestStores.require(authPasswordFile, "ETCD_AUTH_PASSWORD_FILE")
        return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The TLS+auth member's root password (its own file, written by start-stores.sh).
    static func tlsAuthPassword() throws -> String {
        let path = try TestStores.require(tlsAuthPasswordFile, "ETCD_TLS_AUTH_PASSWORD_FILE")
        return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The base64 body lines of a PEM private key: what must never appear in a log.
    static func privateKeyMaterial(_ name: String) throws -> [String] {
        let text = try String(contentsOfFile: try file(name), encoding: .utf8)
        return text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("-----") && $0.count >= 16 }
    }
}

/// A swift-log handler that keeps every line (message, metadata, source) at `.trace`, so a test
/// can assert what was — and what was never — logged.
struct CapturingLogHandler: LogHandler {
    final class Sink: Sendable {
        private let lines = TestMutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    let label: String
    let sink: Sink
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let line = TestLogCapture.line(event, label: label, metadata: metadata)
        sink.append(line)
        TestLogCapture.record(line)  // and into the whole-run capture, when scripts/test.sh asked for it
    }
}

/// Collects the logs of one or more clients.
final class LogCapture: Sendable {
    let sink = CapturingLogHandler.Sink()

    /// A logger at `.trace` whose every line lands in this capture.
    func logger(_ label: String) -> Logger {
        let sink = self.sink
        var logger = Logger(label: label, factory: { CapturingLogHandler(label: $0, sink: sink) })
        logger.logLevel = .trace
        return logger
    }

    var lines: [String] { sink.all }

    /// Records an issue for every captured line (or extra text, e.g. error descriptions) that
    /// contains one of `secrets`.
    func expectNoSecrets(_ secrets: [String], alsoIn extra: [String] = [],
                         sourceLocation: SourceLocation = #_sourceLocation) {
        TestSecrets.register(secrets)
        for secret in secrets where !secret.isEmpty {
            for line in lines + extra where line.contains(secret) {
                Issue.record("a secret appeared in a log line or error: \(line.prefix(200))…", sourceLocation: sourceLocation)
            }
        }
    }
}

/// The slack every timing bound of this suite allows past its deadline (`TestStores.timingSlack`).
var timingSlack: Duration { TestStores.timingSlack }

/// Runs `body` and returns how long it took together with its result (success or error).
func timed<T: Sendable>(_ body: () async throws -> T) async -> (result: Result<T, any Error>, elapsed: Duration) {
    let start = ContinuousClock.now
    do {
        let value = try await body()
        return (.success(value), ContinuousClock.now - start)
    } catch {
        return (.failure(error), ContinuousClock.now - start)
    }
}

/// The error `body` throws, expected to be an `E`; records an issue otherwise.
func expectError<E: Error>(_ errorType: E.Type, sourceLocation: SourceLocation = #_sourceLocation,
                           _ body: () async throws -> Void) async -> E? {
    do {
        try await body()
        Issue.record("expected \(E.self), the call succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as E {
        return error
    } catch {
        Issue.record("expected \(E.self), got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A key or path no other test uses.
func uniqueName(_ tag: String) -> String {
    "autocluster-reliability-\(tag)-\(UUID().uuidString.prefix(8))"
}

/// A value shared between concurrent tasks (a class, so closures can capture it).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: TestMutex<Value>
    init(_ value: Value) { mutex = TestMutex(value) }
    @discardableResult
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}

/// Every way a value is commonly turned into text (print, debugPrint, dump): a secret inside
/// the value must appear in none of them.
func renderings(_ value: Any) -> [String] {
    var dumped = ""
    dump(value, to: &dumped)
    return [String(describing: value), String(reflecting: value), dumped]
}
