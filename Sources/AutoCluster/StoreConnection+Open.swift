import Consul
import Etcd
import Logging
import NodeList
import NodeListConsul
import NodeListEtcd
import NodeListZooKeeper
import ZooKeeper

extension StoreConnection {
    /// Connects the client for `url` and wraps it in its node-list backend.
    ///
    /// For ZooKeeper with a chroot (`zookeeper://h:2181/chroot`) the chroot znode is created
    /// (persistent, empty, with the ACL described in `Security`) when it is missing, since the C
    /// client cannot work under a missing one.
    /// - Parameters:
    ///   - url: The store (its `USER:PASSWORD@` part, if any, is used unless `security` has credentials).
    ///   - security: Credentials and TLS files. Default: none beyond the URL's.
    ///   - logger: Passed to the client.
    ///   - connectTimeout: How long to try to reach the store. Default: 5 s.
    /// - Throws: `NodeListError` `.storeFailure` when the store cannot be reached, `.accessDenied`
    ///   when it refuses the credentials, `.invalidStoreURL` when the settings do not fit the URL.
    public static func open(
        _ url: StoreURL, security: Security = Security(), logger: Logger = Logger(label: "autocluster.store"),
        connectTimeout: Duration = .seconds(5)
    ) async throws -> StoreConnection {
        let credentials = security.credentials ?? url.credentials
        if security.hasTLSSettings && !url.tls && url.kind != .zooKeeper {
            throw NodeListError(
                code: .invalidStoreURL,
                message: "TLS files were given but \(url) is plaintext — use \(url.kind == .etcd ? "etcds" : "consuls")://")
        }
        if url.kind == .zooKeeper && security.hasTLSSettings {
            throw NodeListError(code: .unsupported, message: "TLS to ZooKeeper is not supported — drop the TLS files for \(url)")
        }
        if url.kind != .consul, let credentials, credentials.username.isEmpty || credentials.password == nil {
            throw NodeListError(
                code: .invalidStoreURL,
                message: "\(url.kind == .etcd ? "etcd" : "ZooKeeper digest") credentials need a user and a password — "
                    + "pass USER:PASSWORD@ in the URL, or --user with --password-file")
        }
        do {
            switch url.kind {
            case .zooKeeper:
                let authentication = credentials.map { [(scheme: "digest", credentials: "\($0.username):\($0.password ?? "")")] } ?? []
                let acl = Self.zooKeeperACL(credentials, worldReadable: security.zooKeeperWorldReadable)
                if let chroot = url.chroot {
                    try await createZooKeeperChroot(
                        chroot, hosts: url.hosts, authentication: authentication, acl: acl, logger: logger, connectTimeout: connectTimeout)
                }
                var configuration = ZooKeeperClient.Configuration(connectString: url.zooKeeperConnectString)
                configuration.logger = logger
                configuration.connectTimeout = connectTimeout
                configuration.authentication = authentication
                let client = try await ZooKeeperClient.connect(configuration)
                return StoreConnection(url: url, backend: ZooKeeperNodeListBackend(client: client, acl: acl)) { await client.close() }
            case .etcd:
                let tls = url.tls
                    ? EtcdClient.Configuration.TLS(caFile: security.caFile, certificateFile: security.certificateFile,
                                                   keyFile: security.keyFile, serverName: security.serverName)
                    : nil
                let etcdCredentials = credentials.map { EtcdClient.Configuration.Credentials(username: $0.username, password: $0.password ?? "") }
                var configuration = EtcdClient.Configuration(endpoints: url.etcdEndpoints, tls: tls, credentials: etcdCredentials)
                configuration.logger = logger
                configuration.timeouts.connect = connectTimeout
                let client = try await EtcdClient.connect(configuration)
                return StoreConnection(url: url, backend: EtcdNodeListBackend(client: client)) { await client.close() }
            case .consul:
                var configuration = ConsulClient.Configuration(address: url.consulAddress, token: credentials?.consulToken)
                if url.tls {
                    configuration.tls = .init(caFile: security.caFile, clientCertificateFile: security.certificateFile,
                                              clientKeyFile: security.keyFile, serverName: security.serverName)
                }
                configuration.logger = logger
                configuration.timeouts.connect = connectTimeout
                let client = ConsulClient(configuration)
                return StoreConnection(url: url, backend: ConsulNodeListBackend(client: client)) { try? await client.shutdown() }
            }
        } catch let error as NodeListError {
            throw error
        } catch {
            let advice: String? = switch url.kind {
            case .zooKeeper: ZooKeeperNodeListBackend.accessDeniedAdvice(for: error)
            case .etcd: EtcdNodeListBackend.accessDeniedAdvice(for: error)
            case .consul: ConsulNodeListBackend.accessDeniedAdvice(for: error)
            }
            if let advice {
                throw NodeListError(code: .accessDenied, message: "cannot connect to \(url) — \(url.kind.storeName): \(advice)",
                                    underlying: error)
            }
            // The client's summary already says it could not connect, to which host and why: add
            // the URL only when it does not name every host.
            let summary = Self.summary(of: error)
            throw NodeListError(
                code: .storeFailure,
                message: url.hosts.allSatisfy(summary.contains) ? summary : "cannot connect to \(url): \(summary)",
                underlying: error)
        }
    }

    /// `error` in one line: a store client's error as its `summary`, anything else as its text.
    static func summary(of error: any Error) -> String {
        switch error {
        case let error as EtcdError: error.summary
        case let error as ZooKeeperError: error.summary
        case let error as ConsulError: error.summary
        default: NodeListError.summary(of: error)
        }
    }

    /// The ACL for the znodes the node list creates with `credentials` (see ``StoreConnection/Security``).
    static func zooKeeperACL(_ credentials: StoreCredentials?, worldReadable: Bool) -> ZooKeeperACL {
        guard let credentials, let password = credentials.password else { return .openUnsafe }
        var entries = [ZooKeeperACL.Entry.digest(user: credentials.username, password: password)]
        if worldReadable { entries.append(.init(permissions: .read, scheme: "world", id: "anyone")) }
        return .entries(entries)
    }

    private static func createZooKeeperChroot(
        _ chroot: String, hosts: [String], authentication: [(scheme: String, credentials: String)], acl: ZooKeeperACL,
        logger: Logger, connectTimeout: Duration
    ) async throws {
        var configuration = ZooKeeperClient.Configuration(connectString: hosts.joined(separator: ","))
        configuration.logger = logger
        configuration.connectTimeout = connectTimeout
        configuration.authentication = authentication
        let client = try await ZooKeeperClient.connect(configuration)
        do {
            if try await client.exists(chroot) == nil {
                try await ZooKeeperNodeListBackend(client: client, acl: acl).createParents(of: chroot + "/x")
            }
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    }
}

extension StoreURL.Kind {
    /// The store's name in messages.
    var storeName: String {
        switch self {
        case .zooKeeper: "ZooKeeper"
        case .etcd: "etcd"
        case .consul: "Consul"
        }
    }
}
