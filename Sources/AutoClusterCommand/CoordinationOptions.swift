import ArgumentParser
import AutoCluster
import Logging

/// `--store`, `--ttl`, logging and credentials of `lock` and `elect` (their key is an argument).
struct CoordinationOptions: ParsableArguments {
    @Option(help: "The store URL, e.g. zookeeper://127.0.0.1:2181, etcd://127.0.0.1:2379, consul://127.0.0.1:8500 (default: $AUTOCLUSTER_STORE, else $ETCDCTL_ENDPOINTS, $CONSUL_HTTP_ADDR or $ZOOKEEPER_CONNECT).")
    var store: String?

    @Option(help: "The etcd lease / Consul session TTL the lock is bound to (ZooKeeper: the session timeout, 10s).")
    var ttl: String = "15s"

    @Option(help: "Consul's lock-delay after a holder's session is invalidated (Consul's default 15s; 0s disables).")
    var lockDelay: String = "15s"

    @Option(help: "Log level (stderr).")
    var logLevel: LogLevelOption = .error

    @OptionGroup(title: "Credentials and TLS") var security: SecurityOptions

    var level: Logger.Level { logLevel.level }

    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        return logger
    }

    /// Opens the store, runs `body` with the recipes over it, closes it.
    func withCoordination<T>(_ body: (CoordinationStore) async throws -> T) async throws -> T {
        let url = try StoreResolution.url(flag: store)
        var configuration = CoordinationStore.Configuration()
        configuration.ttl = try parseDuration(ttl, flag: "--ttl")
        configuration.consulLockDelay = try parseDuration(lockDelay, flag: "--lock-delay")
        configuration.logger = logger("autocluster.coordination")
        let connection = try await StoreConnection.open(url, security: try security.resolve(for: url), logger: logger("autocluster"))
        let coordination: CoordinationStore
        switch connection.backend {
        case let backend as EtcdNodeListBackend: coordination = .etcd(backend.client, configuration: configuration)
        case let backend as ZooKeeperNodeListBackend: coordination = .zooKeeper(backend.client, configuration: configuration)
        case let backend as ConsulNodeListBackend: coordination = .consul(backend.client, configuration: configuration)
        default:
            await connection.close()
            throw NodeListError(code: .unsupported, message: "\(url) is not an etcd, ZooKeeper or Consul store")
        }
        do {
            let result = try await body(coordination)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }
}
