import ArgumentParser
import AutoCluster
import Foundation

/// `--user`, `--password-file`, `--token-file`, `--ca-file`, `--cert-file`, `--key-file`,
/// `--server-name`, `--zookeeper-world-readable`.
///
/// Secrets are never taken from the command line (where `ps` shows them): passwords come from a
/// file or the environment, or from the store URL's `USER:PASSWORD@` (best given through
/// `$AUTOCLUSTER_STORE`).
struct SecurityOptions: ParsableArguments {
    @Option(help: "etcd user / ZooKeeper digest user (overrides the URL's USER@, which overrides $ETCDCTL_USER). Its password: --password-file, else the URL's, else $AUTOCLUSTER_STORE_PASSWORD, else $ETCDCTL_USER's or $ETCDCTL_PASSWORD.")
    var user: String?

    @Option(help: "A file holding the password of --user (first line; mode 600 recommended). For Consul: the ACL token.")
    var passwordFile: String?

    @Option(help: "Consul: a file holding the ACL token (default: the URL's TOKEN@, else $CONSUL_HTTP_TOKEN, else $CONSUL_HTTP_TOKEN_FILE).")
    var tokenFile: String?

    @Option(help: "etcds:// / consuls://: PEM file of the CA certificates to trust (default: $ETCDCTL_CACERT / $CONSUL_CACERT, else the system's roots).")
    var caFile: String?

    @Option(help: "etcds:// / consuls://: PEM client certificate, for servers that require one (default: $ETCDCTL_CERT / $CONSUL_CLIENT_CERT).")
    var certFile: String?

    @Option(help: "etcds:// / consuls://: PEM private key of --cert-file (default: $ETCDCTL_KEY / $CONSUL_CLIENT_KEY).")
    var keyFile: String?

    @Option(help: "etcds:// / consuls://: the name to verify the server certificate against (default: $CONSUL_TLS_SERVER_NAME for Consul, else the host).")
    var serverName: String?

    @Flag(help: "ZooKeeper with credentials: let anyone read (not change) the znodes created for the list (default: nobody without the credentials).")
    var zookeeperWorldReadable = false

    /// The settings for `url`, with the secrets read from their files or the environment.
    func resolve(for url: StoreURL) throws -> StoreConnection.Security {
        if (certFile == nil) != (keyFile == nil) {
            throw ValidationError("--cert-file and --key-file go together")
        }
        // Flags first; for a TLS URL, the store's own variables fill in what the flags leave out.
        let fallback = url.tls ? Self.tlsVariables(url.kind) : (ca: nil, cert: nil, key: nil, name: nil)
        var security = StoreConnection.Security(
            caFile: caFile ?? fallback.ca.flatMap(environment), certificateFile: certFile, keyFile: keyFile,
            serverName: serverName ?? fallback.name.flatMap(environment), zooKeeperWorldReadable: zookeeperWorldReadable)
        if certFile == nil, let certVariable = fallback.cert, let keyVariable = fallback.key {
            let (cert, key) = (environment(certVariable), environment(keyVariable))
            if (cert == nil) != (key == nil) {
                throw ValidationError("$\(certVariable) and $\(keyVariable) go together — set both or neither")
            }
            (security.certificateFile, security.keyFile) = (cert, key)
        }
        switch url.kind {
        case .consul:
            if user != nil { throw ValidationError("--user is not used with Consul — pass the ACL token with --token-file") }
            let token = try tokenFile.map { try Self.readSecret($0, flag: "--token-file") }
                ?? passwordFile.map { try Self.readSecret($0, flag: "--password-file") }
                ?? url.credentials?.consulToken
                ?? environment("CONSUL_HTTP_TOKEN")
                ?? environment("CONSUL_HTTP_TOKEN_FILE").map { try Self.readSecret($0, flag: "$CONSUL_HTTP_TOKEN_FILE") }
            security.credentials = token.map { StoreCredentials(username: "", password: $0) }
        case .etcd, .zooKeeper:
            if tokenFile != nil { throw ValidationError("--token-file is for Consul — pass --user and --password-file") }
            // etcdctl's $ETCDCTL_USER (USER or USER:PASSWORD) and $ETCDCTL_PASSWORD come last.
            let etcdctlUser = url.kind == .etcd ? environment("ETCDCTL_USER").map(Self.splitUser) : nil
            let username = user ?? url.credentials?.username ?? etcdctlUser?.name
            let etcdctlPassword = url.kind == .etcd && username == etcdctlUser?.name
                ? etcdctlUser?.password ?? environment("ETCDCTL_PASSWORD") : nil
            let password = try passwordFile.map { try Self.readSecret($0, flag: "--password-file") }
                ?? url.credentials?.password
                ?? environment("AUTOCLUSTER_STORE_PASSWORD")
                ?? etcdctlPassword
            if let username {
                guard let password else {
                    throw ValidationError("no password for user \(username) — pass --password-file FILE or set AUTOCLUSTER_STORE_PASSWORD")
                }
                security.credentials = StoreCredentials(username: username, password: password)
            } else if passwordFile != nil {
                throw ValidationError("--password-file needs --user (or USER@ in the store URL)")
            }
        }
        return security
    }

    /// The variables etcdctl / the consul CLI read for TLS: CA, client certificate, its key, server name.
    static func tlsVariables(_ kind: StoreURL.Kind) -> (ca: String?, cert: String?, key: String?, name: String?) {
        switch kind {
        case .etcd: ("ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY", nil)
        case .consul: ("CONSUL_CACERT", "CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY", "CONSUL_TLS_SERVER_NAME")
        case .zooKeeper: (nil, nil, nil, nil)
        }
    }

    /// `USER` or `USER:PASSWORD` (etcdctl's `--user` form).
    static func splitUser(_ text: String) -> (name: String, password: String?) {
        guard let colon = text.firstIndex(of: ":") else { return (text, nil) }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// The first line of `path`; the error names the file, never its content.
    static func readSecret(_ path: String, flag: String) throws -> String {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read \(flag) \(path) — does it exist and is it readable?")
        }
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let secret = line.hasSuffix("\r") ? String(line.dropLast()) : line
        guard !secret.isEmpty else { throw ValidationError("\(flag) \(path) is empty") }
        return secret
    }
}
