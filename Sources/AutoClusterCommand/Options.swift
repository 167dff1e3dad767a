import ArgumentParser
import AutoCluster
import Foundation
import Logging

/// `--store` and `--key`.
struct StoreOptions: ParsableArguments {
    @Option(help: "The store URL, e.g. zookeeper://127.0.0.1:2181, etcd://127.0.0.1:2379, consul://127.0.0.1:8500 (default: $AUTOCLUSTER_STORE, else $ETCDCTL_ENDPOINTS, $CONSUL_HTTP_ADDR or $ZOOKEEPER_CONNECT).")
    var store: String?

    @Option(help: "The key the node list is stored at, e.g. /autocluster/my-service.")
    var key: String

    @Option(help: "Log level (stderr). `run` logs at info or finer. $AUTOCLUSTER_TRACE_LOG=FILE also appends every line at trace level to FILE.")
    var logLevel: LogLevelOption = .error

    @OptionGroup(title: "Credentials and TLS") var security: SecurityOptions

    func storeURL() throws -> StoreURL { try StoreResolution.url(flag: store) }

    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { label in
            if let path = environment("AUTOCLUSTER_TRACE_LOG"), let file = TraceFile.shared(path) {
                return TraceTeeLogHandler(label: label, file: file)
            }
            return StreamLogHandler.standardError(label: label)
        }
        logger.logLevel = level
        return logger
    }

    /// `--log-level` (default `.error`).
    var level: Logger.Level { logLevel.level }

    /// Opens the store, runs `body` over the node list, closes it.
    func withStore<T>(
        probe: ProbeOptions? = nil, _ body: (NodeListStore) async throws -> T
    ) async throws -> T {
        let logger = self.logger("autocluster")
        return try await withBackend { backend in
            let store = NodeListStore(
                backend: backend, key: key, probe: try probe?.makeProbe() ?? (TCPProbe() as any NodeProbe),
                configuration: try probe?.configuration() ?? .init(), logger: logger)
            return try await body(store)
        }
    }

    /// Opens the store, runs `body` with its raw backend (for `list --raw`), closes it.
    func withBackend<T>(_ body: (any NodeListBackend) async throws -> T) async throws -> T {
        let url = try storeURL()
        guard key.hasPrefix("/"), key.count > 1, !key.hasSuffix("/") else {
            throw NodeListError(code: .invalidNode, message: "--key \"\(key)\" must look like /autocluster/my-service")
        }
        let connection = try await StoreConnection.open(url, security: try security.resolve(for: url), logger: logger("autocluster"))
        do {
            let result = try await body(connection.backend)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }
}

/// The probe and sweep flags of `join`, `sweep` and `run`.
struct ProbeOptions: ParsableArguments {
    @Option(help: "How other nodes are probed: tcp, http:/PATH (GET, 2xx = alive) or none.")
    var probe: ProbeChoice = .tcp

    @Option(help: "Timeout of one probe attempt (e.g. 500ms, 2s).")
    var probeTimeout: String = "500ms"

    @Option(help: "Failed attempts before a node counts as dead.")
    var probeAttempts: Int = 2

    @Option(help: "How many nodes are probed at the same time.")
    var probeConcurrency: Int = 16

    @Option(help: "This node never votes against an entry it has known for less than this (e.g. 10s).")
    var sweepGrace: String = "10s"

    @Option(help: "How long a member that reaches no majority must find an entry dead before the survivor rule removes it (e.g. 8s).")
    var survivorDelay: String = "8s"

    @Option(help: "The most nodes the list may hold.")
    var maxNodes: Int = 1000

    @Flag(help: "Replace a stored value that is not a node list (by compare-and-swap against its version) instead of failing.")
    var replaceCorrupt = false

    func makeProbe() throws -> any NodeProbe {
        let timeout = try parseDuration(probeTimeout, flag: "--probe-timeout")
        switch probe {
        case .tcp: return TCPProbe(timeout: timeout)
        case .none: return NoProbe()
        case .http(let path): return HTTPProbe(path: path, timeout: timeout)
        }
    }

    func configuration() throws -> NodeListStore.Configuration {
        var configuration = NodeListStore.Configuration()
        configuration.probeTimeout = try parseDuration(probeTimeout, flag: "--probe-timeout")
        configuration.probeAttempts = probeAttempts
        configuration.probeConcurrency = probeConcurrency
        configuration.sweepGracePeriod = try parseDuration(sweepGrace, flag: "--sweep-grace")
        configuration.survivorDelay = try parseDuration(survivorDelay, flag: "--survivor-delay")
        configuration.maxNodes = maxNodes
        configuration.corruptValuePolicy = replaceCorrupt ? .replaceCorrupt : .fail
        guard probeAttempts >= 1 else { throw ValidationError("--probe-attempts must be at least 1") }
        guard probeConcurrency >= 1 else { throw ValidationError("--probe-concurrency must be at least 1") }
        return configuration
    }
}

/// `--name`, `--address`, `--incarnation`, `--metadata`.
struct NodeOptions: ParsableArguments {
    @Option(help: "This node's unique name.")
    var name: String

    @Option(help: "Where this node answers, HOST:PORT.")
    var address: String

    @Option(help: "This run's incarnation (default: a new random UUID).")
    var incarnation: String?

    @Option(name: .customLong("metadata"), help: "An attribute KEY=VALUE to store with the entry (repeatable).")
    var metadata: [String] = []

    func node() throws -> ClusterNode {
        var attributes: [String: String] = [:]
        for pair in metadata {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw ValidationError("--metadata \"\(pair)\" is not KEY=VALUE")
            }
            attributes[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        if let incarnation {
            return ClusterNode(name: name, address: address, incarnation: incarnation, metadata: attributes)
        }
        return ClusterNode(name: name, address: address, metadata: attributes)
    }
}

/// `500ms`, `2s`, `1.5s`, `3m`, `1h`; a bare number is seconds.
func parseDuration(_ text: String, flag: String) throws -> Duration {
    let units: [(String, Double)] = [("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9), ("s", 1), ("m", 60), ("h", 3600)]
    var number = Substring(text)
    var scale = 1.0
    for (suffix, factor) in units where text.hasSuffix(suffix) {
        number = text.dropLast(suffix.count)
        scale = factor
        break
    }
    guard let value = Double(number), value >= 0, value.isFinite else {
        throw ValidationError("\(flag) \"\(text)\" is not a duration like 500ms, 10s or 2m")
    }
    // Int64 nanoseconds end at ~292 years; converting more would trap.
    guard value * scale <= 1e9 else { throw ValidationError("\(flag) \"\(text)\" is too long (at most 1000000000s)") }
    return .nanoseconds(Int64(value * scale * 1e9))
}

func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let string = String(cString: value)
    return string.isEmpty ? nil : string
}
