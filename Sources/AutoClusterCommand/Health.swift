import ArgumentParser
import AutoCluster
import Foundation
import Logging

/// `autocluster health`, as `etcdctl endpoint health` / `consul operator raft list-peers`'s
/// reachability half: every endpoint of the store URL on its own.
struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that each endpoint of the store answers: connect, do one read, report the time taken.",
        discussion: """
            Each HOST:PORT of the store URL is checked on its own connection: connect, then read --key \
            (a key that need not exist). etcd endpoints also report their member's status (server \
            version, member, cluster, leader, raft term). One row (or one JSON object in `endpoints`) \
            per endpoint; exit status 0 when every endpoint answered, 69 otherwise (with one line on \
            stderr naming the first failure), 64 for a wrong argument.
            """)

    @Option(help: "The store URL (default: $AUTOCLUSTER_STORE, else $ETCDCTL_ENDPOINTS, $CONSUL_HTTP_ADDR or $ZOOKEEPER_CONNECT).")
    var store: String?

    @Option(help: "The key read on each endpoint (it need not exist).")
    var key: String = "/autocluster/health"

    @Option(help: "How long each endpoint has to connect and answer (e.g. 2s).")
    var timeout: String = "5s"

    @Option(help: "Log level (stderr).")
    var logLevel: LogLevelOption = .error

    @OptionGroup var outputOptions: OutputOptions

    @OptionGroup(title: "Credentials and TLS") var security: SecurityOptions

    func validate() throws {
        do {
            _ = try StoreResolution.url(flag: store)
        } catch let error as NodeListError {
            throw ValidationError(error.message)
        }
        try checkKey(key)
        guard try parseDuration(timeout, flag: "--timeout") > .zero else {
            throw ValidationError("--timeout must be more than 0 (e.g. 2s)")
        }
    }

    func run() async throws {
        try await runReportingErrors {
            let url = try StoreResolution.url(flag: store)
            let settings = try security.resolve(for: url)
            let limit = try parseDuration(timeout, flag: "--timeout")
            var logger = Logger(label: "autocluster.health") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = logLevel.level
            var results: [EndpointHealthJSON] = []
            for host in url.hosts {
                results.append(await Self.check(host, of: url, key: key, security: settings, limit: limit, limitText: timeout, logger: logger))
            }
            let report = HealthJSON(healthy: results.allSatisfy(\.healthy), endpoints: results)
            switch outputOptions.format {
            case .json: try printJSON(report)
            case .table: FileHandleOutput.standardOutput(Self.table(results))
            }
            if let failed = results.first(where: { !$0.healthy }) {
                let count = results.filter { !$0.healthy }.count
                let which = count == 1 ? "\(failed.endpoint) is unhealthy" : "\(count) of \(results.count) endpoints are unhealthy (first: \(failed.endpoint))"
                exitWithError("\(which): \(failed.error ?? "no answer") — check that the store runs there and that --store names it",
                              status: ExitCode(ExitStatus.unavailable))
            }
        }
    }

    /// One endpoint: connect, read `key`, and for etcd the member's status.
    static func check(
        _ host: String, of url: StoreURL, key: String, security: StoreConnection.Security, limit: Duration, limitText: String, logger: Logger
    ) async -> EndpointHealthJSON {
        // A ZooKeeper chroot is read, not created: no health check writes.
        let path = (url.chroot ?? "") + key
        let single = {
            var single = url
            single.hosts = [host]
            single.chroot = nil
            return single
        }()
        var result = EndpointHealthJSON(endpoint: host, store: url.kind.rawValue)
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let (connect, read, etcd) = try await withDeadline(limit) {
                let connection = try await StoreConnection.open(single, security: security, logger: logger, connectTimeout: limit)
                let connected = clock.now
                do {
                    _ = try await connection.backend.read(key: path)
                    let read = clock.now
                    var etcd: EtcdMemberJSON?
                    if let backend = connection.backend as? EtcdNodeListBackend {
                        etcd = EtcdMemberJSON(try await backend.client.status())
                    }
                    await connection.close()
                    return (connected - start, read - connected, etcd)
                } catch {
                    await connection.close()
                    throw error
                }
            }
            result.healthy = true
            result.connectMilliseconds = milliseconds(connect)
            result.readMilliseconds = milliseconds(read)
            result.etcd = etcd
        } catch is DeadlineExceeded {
            result.error = "no answer within \(limitText)"
        } catch let error as NodeListError {
            result.error = whatHappened(error.message)
        } catch {
            result.error = whatHappened("\(error)")
        }
        return result
    }

    /// An error's text without its advice (after " — "): the row and the error line give their own.
    static func whatHappened(_ message: String) -> String {
        let text = oneLine(withoutScriptAdvice(message))
        return text.range(of: " — ").map { String(text[..<$0.lowerBound]) } ?? text
    }

    static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return ((Double(seconds) * 1000 + Double(attoseconds) / 1e15) * 10).rounded() / 10
    }

    static func table(_ results: [EndpointHealthJSON]) -> String {
        var rows: [[String]] = [["ENDPOINT", "STORE", "HEALTH", "CONNECT", "READ", "DETAIL"]]
        for result in results {
            rows.append([
                result.endpoint, result.store, result.healthy ? "healthy" : "unhealthy",
                result.connectMilliseconds.map { "\($0)ms" } ?? "-", result.readMilliseconds.map { "\($0)ms" } ?? "-",
                result.error ?? result.etcd.map {
                    "etcd \($0.version), member \($0.memberID), cluster \($0.clusterID), leader \($0.leader), raft term \($0.raftTerm)"
                } ?? "",
            ])
        }
        var widths = Array(repeating: 0, count: rows[0].count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }
}

/// `health --output json`: `{"endpoints":[…],"healthy":bool}`.
struct HealthJSON: Codable, Sendable {
    var healthy: Bool
    var endpoints: [EndpointHealthJSON]
}

/// One endpoint's check; `connectMilliseconds`/`readMilliseconds` and `etcd` are null when it
/// did not answer, `error` is null when it did.
struct EndpointHealthJSON: Codable, Sendable {
    var endpoint: String
    var store: String
    var healthy = false
    var connectMilliseconds: Double?
    var readMilliseconds: Double?
    var error: String?
    var etcd: EtcdMemberJSON?

    enum CodingKeys: String, CodingKey { case endpoint, store, healthy, connectMilliseconds, readMilliseconds, error, etcd }

    init(endpoint: String, store: String) {
        self.endpoint = endpoint
        self.store = store
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        endpoint = try c.decode(String.self, forKey: .endpoint)
        store = try c.decode(String.self, forKey: .store)
        healthy = try c.decode(Bool.self, forKey: .healthy)
        connectMilliseconds = try c.decodeIfPresent(Double.self, forKey: .connectMilliseconds)
        readMilliseconds = try c.decodeIfPresent(Double.self, forKey: .readMilliseconds)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        etcd = try c.decodeIfPresent(EtcdMemberJSON.self, forKey: .etcd)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(endpoint, forKey: .endpoint)
        try c.encode(store, forKey: .store)
        try c.encode(healthy, forKey: .healthy)
        try c.encode(connectMilliseconds, forKey: .connectMilliseconds)
        try c.encode(readMilliseconds, forKey: .readMilliseconds)
        try c.encode(error, forKey: .error)
        try c.encode(etcd, forKey: .etcd)
    }
}

/// An etcd member's status (Maintenance.Status); IDs in hex as etcdctl prints them.
struct EtcdMemberJSON: Codable, Sendable {
    var version: String
    var memberID: String
    var clusterID: String
    var leader: String
    var raftTerm: UInt64
    var isLeader: Bool

    init(_ status: EtcdStatus) {
        version = status.version
        memberID = String(status.header.memberID, radix: 16)
        clusterID = String(status.header.clusterID, radix: 16)
        leader = String(status.leader, radix: 16)
        raftTerm = status.raftTerm
        isLeader = status.leader == status.header.memberID
    }
}

/// Thrown by ``withDeadline(_:_:)`` when the operation took too long.
struct DeadlineExceeded: Error {}

/// The result of `operation`, or `DeadlineExceeded` after `limit` (the operation is cancelled).
func withDeadline<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlineExceeded() }
        return value
    }
}
