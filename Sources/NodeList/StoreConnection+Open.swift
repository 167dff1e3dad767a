import Consul
import Etcd
import Logging
import ZooKeeper

extension StoreConnection {
    /// Connects the client for `url` and wraps it in its node-list backend.
    ///
    /// For ZooKeeper with a chroot (`zookeeper://h:2181/chroot`) the chroot znode is created
    /// (persistent, empty) when it is missing, since the C client cannot work under a missing one.
    /// - Parameters:
    ///   - url: The store.
    ///   - logger: Passed to the client.
    ///   - connectTimeout: How long to try to reach the store. Default: 5 s.
    /// - Throws: ``NodeListError`` `.storeFailure` when the store cannot be reached.
    public static func open(
        _ url: StoreURL, logger: Logger = Logger(label: "autocluster.store"), connectTimeout: Duration = .seconds(5)
    ) async throws -> StoreConnection {
        do {
            switch url.kind {
            case .zooKeeper:
                if let chroot = url.chroot {
                    try await createZooKeeperChroot(chroot, hosts: url.hosts, logger: logger, connectTimeout: connectTimeout)
                }
                var configuration = ZooKeeperClient.Configuration(connectString: url.zooKeeperConnectString)
                configuration.logger = logger
                configuration.connectTimeout = connectTimeout
                let client = try await ZooKeeperClient.connect(configuration)
                return StoreConnection(url: url, backend: ZooKeeperNodeListBackend(client: client)) { await client.close() }
            case .etcd:
                var configuration = EtcdClient.Configuration(endpoints: url.etcdEndpoints, tls: url.tls ? .init() : nil)
                configuration.logger = logger
                configuration.timeouts.connect = connectTimeout
                let client = try await EtcdClient.connect(configuration)
                return StoreConnection(url: url, backend: EtcdNodeListBackend(client: client)) { await client.close() }
            case .consul:
                var configuration = ConsulClient.Configuration(address: url.consulAddress)
                configuration.logger = logger
                configuration.timeouts.connect = connectTimeout
                let client = ConsulClient(configuration)
                return StoreConnection(url: url, backend: ConsulNodeListBackend(client: client)) { try? await client.shutdown() }
            }
        } catch let error as NodeListError {
            throw error
        } catch {
            throw NodeListError(
                code: .storeFailure,
                message: "cannot connect to \(url): \(error)",
                underlying: error)
        }
    }

    private static func createZooKeeperChroot(
        _ chroot: String, hosts: [String], logger: Logger, connectTimeout: Duration
    ) async throws {
        var configuration = ZooKeeperClient.Configuration(connectString: hosts.joined(separator: ","))
        configuration.logger = logger
        configuration.connectTimeout = connectTimeout
        let client = try await ZooKeeperClient.connect(configuration)
        do {
            if try await client.exists(chroot) == nil {
                try await ZooKeeperNodeListBackend(client: client).createParents(of: chroot + "/x")
            }
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    }
}
