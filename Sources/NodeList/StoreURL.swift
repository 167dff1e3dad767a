/// A store address as the `autocluster` command takes it.
///
/// - `zookeeper://h1:2181,h2:2181/chroot` (port defaults to 2181, the chroot is optional)
/// - `etcd://h1:2379,h2:2379`, `etcds://…` for TLS (port defaults to 2379)
/// - `consul://127.0.0.1:8500`, `consuls://…` for TLS (port defaults to 8500)
///
/// Each may carry credentials, `scheme://USER:PASSWORD@hosts…` (percent-encoded where they
/// contain `:`, `@`, `/` or `%`): etcd's user and password, ZooKeeper `digest` credentials,
/// or a Consul ACL token (`consul://TOKEN@…` or `consul://:TOKEN@…`). They are kept in
/// ``credentials`` and never shown: not by ``description``, not in any error.
public struct StoreURL: Sendable, Hashable, CustomStringConvertible {
    /// Which store.
    public enum Kind: String, Sendable, Hashable {
        case zooKeeper = "zookeeper"
        case etcd
        case consul
    }

    /// Which store.
    public var kind: Kind
    /// `host:port` of each server, in order (IPv6 hosts in brackets).
    public var hosts: [String]
    /// ZooKeeper only: the chroot path (`/chroot`), nil for none.
    public var chroot: String?
    /// Whether to use TLS (`etcds://`, `consuls://`).
    public var tls: Bool
    /// The credentials of the URL's `USER:PASSWORD@` part, nil when it has none.
    public var credentials: StoreCredentials?

    /// Parses a store URL.
    /// - Throws: ``NodeListError`` `.invalidStoreURL` with a message naming what is wrong.
    public init(parsing text: String) throws {
        // Never echo credentials (user:password@) back in an error.
        let shown: String = {
            // Up to the last "@": a password may itself contain "@".
            guard let at = text.lastIndex(of: "@"), let scheme = text.range(of: "://"), scheme.upperBound <= at else { return text }
            return String(text[..<scheme.upperBound]) + "***" + String(text[at...])
        }()
        func invalid(_ why: String) -> NodeListError {
            NodeListError(
                code: .invalidStoreURL,
                message: "invalid store URL \"\(shown)\": \(why) — expected zookeeper://HOST:PORT[,HOST:PORT…][/chroot], "
                    + "etcd[s]://HOST:PORT[,…] or consul[s]://HOST:PORT")
        }
        guard let schemeEnd = text.range(of: "://") else { throw invalid("no scheme") }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        var rest = String(text[schemeEnd.upperBound...])
        let defaultPort: Int
        switch scheme {
        case "zookeeper", "zk": (kind, tls, defaultPort) = (.zooKeeper, false, 2181)
        case "etcd", "etcd+http": (kind, tls, defaultPort) = (.etcd, false, 2379)
        case "etcds", "etcd+https": (kind, tls, defaultPort) = (.etcd, true, 2379)
        case "consul", "consul+http": (kind, tls, defaultPort) = (.consul, false, 8500)
        case "consuls", "consul+https": (kind, tls, defaultPort) = (.consul, true, 8500)
        default: throw invalid("unknown scheme \"\(scheme)\"")
        }
        chroot = nil
        credentials = nil
        // USER[:PASSWORD]@ before the hosts (the authority ends at the first "/"; a "/" in a
        // password must be percent-encoded).
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        if let at = rest[..<authorityEnd].lastIndex(of: "@") {
            let userInfo = rest[..<at]
            let user: Substring
            let password: Substring?
            if let colon = userInfo.firstIndex(of: ":") {
                user = userInfo[..<colon]
                password = userInfo[userInfo.index(after: colon)...]
            } else {
                (user, password) = (userInfo, nil)
            }
            let decodedPassword = password.map(Self.percentDecoded)
            guard let username = Self.percentDecoded(user), decodedPassword != .some(nil) else {
                throw invalid("the credentials are not valid percent-encoded UTF-8")
            }
            guard !username.isEmpty || (decodedPassword ?? nil)?.isEmpty == false else { throw invalid("empty credentials before \"@\"") }
            credentials = StoreCredentials(username: username, password: decodedPassword ?? nil)
            rest = String(rest[rest.index(after: at)...])
        }
        if let slash = rest.firstIndex(of: "/") {
            let path = String(rest[slash...])
            rest = String(rest[..<slash])
            if kind == .zooKeeper {
                if path != "/" {
                    let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
                    // A chroot is a ZooKeeper path: no empty, "." or ".." segment, no control characters.
                    for segment in trimmed.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
                        guard !segment.isEmpty else { throw invalid("the chroot has an empty segment") }
                        guard segment != "." && segment != ".." else {
                            throw invalid("the chroot has a \"\(segment)\" segment")
                        }
                        guard !segment.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
                            throw invalid("the chroot contains a control character")
                        }
                    }
                    chroot = trimmed
                }
            } else if path != "/" {
                throw invalid("a path is only meaningful for a ZooKeeper URL (its chroot)")
            }
        }
        guard !rest.contains("@") else { throw invalid("the host list contains \"@\"") }
        guard !rest.contains("?") && !rest.contains("#") else { throw invalid("query strings are not supported") }
        if rest.isEmpty { throw invalid("no host") }
        var hosts: [String] = []
        for part in rest.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = String(part)
            guard !entry.isEmpty else { throw invalid("an empty host in the list") }
            guard !entry.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7f }) else {
                throw invalid("a host contains a space or a control character")
            }
            if let (host, port) = ClusterNode.splitHostPort(entry) {
                hosts.append(host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
            } else if entry.hasPrefix("[") && entry.hasSuffix("]") && entry.count > 2,
                      !entry.dropFirst().dropLast().contains(where: { $0 == "[" || $0 == "]" }) {
                // The same canonical form as with a port: brackets only around an IPv6 address
                // (one pair: "[]0:::2A;7]" would canonicalise to a form that does not parse back).
                let host = String(entry.dropFirst().dropLast())
                hosts.append(host.contains(":") ? "[\(host)]:\(defaultPort)" : "\(host):\(defaultPort)")
            } else if !entry.contains(":") && !entry.contains("[") && !entry.contains("]") {
                hosts.append("\(entry):\(defaultPort)")
            } else {
                throw invalid("\"\(entry)\" is not HOST or HOST:PORT with a port in 1…65535")
            }
        }
        if kind == .consul && hosts.count > 1 { throw invalid("a Consul URL takes one agent address") }
        self.hosts = hosts
    }

    /// The same URL without its credentials.
    public var withoutCredentials: StoreURL {
        var url = self
        url.credentials = nil
        return url
    }

    /// `%XX` sequences decoded; nil when one is malformed or the result is not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            func hex(_ b: UInt8) -> UInt8? {
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
                default: nil
                }
            }
            guard utf8.count >= 2, let high = hex(utf8[utf8.startIndex]), let low = hex(utf8[utf8.index(after: utf8.startIndex)]) else {
                return nil
            }
            bytes.append(high << 4 | low)
            utf8 = utf8.dropFirst(2)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The ZooKeeper connect string: `h1:2181,h2:2181/chroot`.
    public var zooKeeperConnectString: String { hosts.joined(separator: ",") + (chroot ?? "") }

    /// The etcd endpoints: `http://h1:2379` (`https://` with TLS).
    public var etcdEndpoints: [String] { hosts.map { (tls ? "https://" : "http://") + $0 } }

    /// The Consul agent address: `http://127.0.0.1:8500` (`https://` with TLS).
    public var consulAddress: String { (tls ? "https://" : "http://") + (hosts.first ?? "127.0.0.1:8500") }

    /// The URL in its normal form (`etcd://h1:2379,h2:2379`), always without its credentials.
    public var description: String {
        let scheme: String
        switch kind {
        case .zooKeeper: scheme = "zookeeper"
        case .etcd: scheme = tls ? "etcds" : "etcd"
        case .consul: scheme = tls ? "consuls" : "consul"
        }
        return "\(scheme)://\(hosts.joined(separator: ","))\(chroot ?? "")"
    }
}
