extension StoreConnection {
    /// How `StoreConnection/open(_:security:logger:connectTimeout:)` authenticates to the store
    /// and verifies it: credentials and TLS files, as a production client passes them.
    ///
    /// - etcd: ``credentials`` are the user and password of etcd's authentication; with
    ///   `etcds://` the server certificate must chain to ``caFile`` (default: the system's
    ///   roots) and match the host; ``certificateFile``/``keyFile`` are the client certificate
    ///   for members with `--client-cert-auth`.
    /// - ZooKeeper: ``credentials`` are `digest` credentials, added with `addAuth` on connect
    ///   (and on every reconnect). The znodes the node list creates — the list, its shared secret,
    ///   missing parents and the chroot — get a digest ACL: all permissions for exactly these
    ///   credentials, and (with ``zooKeeperWorldReadable``) read for everyone. Without them
    ///   ZooKeeper answers `noAuth`, reported as ``NodeListError/Code/accessDenied``.
    /// - Consul: the ACL token is ``credentials``' ``StoreCredentials/consulToken``; with
    ///   `consuls://` the TLS files as for etcd.
    ///
    /// No rendering of it (`description`, `dump`) shows a secret.
    public struct Security: Sendable, CustomStringConvertible, CustomReflectable {
        /// The credentials. Default `nil`: the store URL's (`USER:PASSWORD@`), if any.
        public var credentials: StoreCredentials?
        /// PEM file of the CA certificates to trust. Default `nil`: the system's trust roots.
        public var caFile: String?
        /// PEM file of the client certificate (mTLS). Default `nil`: none.
        public var certificateFile: String?
        /// PEM file of the client certificate's private key. Default `nil`: none.
        public var keyFile: String?
        /// The name to verify the server certificate against instead of the host. Default `nil`.
        public var serverName: String?
        /// ZooKeeper with credentials: let anyone read (not change) the znodes the node list
        /// creates. Default `false`: nobody without the credentials can read them.
        public var zooKeeperWorldReadable: Bool

        /// Creates security settings.
        /// - Parameters:
        ///   - credentials: Default `nil` (the URL's).
        ///   - caFile: Default `nil` (system roots).
        ///   - certificateFile: Default `nil`.
        ///   - keyFile: Default `nil`.
        ///   - serverName: Default `nil`.
        ///   - zooKeeperWorldReadable: Default `false`.
        public init(credentials: StoreCredentials? = nil, caFile: String? = nil, certificateFile: String? = nil,
                    keyFile: String? = nil, serverName: String? = nil, zooKeeperWorldReadable: Bool = false) {
            self.credentials = credentials
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.serverName = serverName
            self.zooKeeperWorldReadable = zooKeeperWorldReadable
        }

        /// Whether any TLS file or name is set.
        public var hasTLSSettings: Bool { caFile != nil || certificateFile != nil || keyFile != nil || serverName != nil }

        /// The settings without secrets.
        public var description: String {
            var parts: [String] = []
            if let credentials { parts.append("credentials: \(credentials)") }
            if let caFile { parts.append("caFile: \(caFile)") }
            if let certificateFile { parts.append("certificateFile: \(certificateFile)") }
            if let keyFile { parts.append("keyFile: \(keyFile)") }
            if let serverName { parts.append("serverName: \(serverName)") }
            if zooKeeperWorldReadable { parts.append("zooKeeperWorldReadable: true") }
            return "Security(\(parts.joined(separator: ", ")))"
        }

        /// A mirror without secrets (for `dump`).
        public var customMirror: Mirror { Mirror(self, children: ["description": description]) }
    }
}
