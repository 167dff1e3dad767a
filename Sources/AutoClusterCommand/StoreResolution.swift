import ArgumentParser
import AutoCluster

/// Which store the command talks to: `--store URL`, else `$AUTOCLUSTER_STORE`, else the stores'
/// own variables — `ETCDCTL_ENDPOINTS` (etcdctl), `CONSUL_HTTP_ADDR` (with `CONSUL_HTTP_SSL`, the
/// consul CLI) or `ZOOKEEPER_CONNECT` (ZooKeeper has no official one; this is the name the
/// Confluent images and this project's tests use, `HOST:PORT[,HOST:PORT…][/chroot]`). When more
/// than one of those is set the choice is refused rather than guessed.
enum StoreResolution {
    /// The store variables, in the order they are named in messages.
    static let variables = ["ETCDCTL_ENDPOINTS", "CONSUL_HTTP_ADDR", "ZOOKEEPER_CONNECT"]

    /// The store URL for `--store` (nil when not given).
    /// - Throws: `NodeListError.invalidStoreURL` naming what is missing, ambiguous or malformed.
    static func url(flag: String?) throws -> StoreURL {
        if let text = flag ?? environment("AUTOCLUSTER_STORE") { return try StoreURL(parsing: text) }
        let set = variables.filter { environment($0) != nil }
        guard set.count <= 1 else {
            throw NodeListError(
                code: .invalidStoreURL,
                message: "no --store given and \(set.joined(separator: " and ")) are \(set.count == 2 ? "both" : "all") set, so the store is ambiguous — "
                    + "pass --store URL or set AUTOCLUSTER_STORE to choose one")
        }
        guard let variable = set.first, let value = environment(variable) else {
            throw NodeListError(
                code: .invalidStoreURL,
                message: "no store given — pass --store URL or set AUTOCLUSTER_STORE "
                    + "(or one of ETCDCTL_ENDPOINTS, CONSUL_HTTP_ADDR, ZOOKEEPER_CONNECT)")
        }
        let text: String
        switch variable {
        case "ETCDCTL_ENDPOINTS": text = try etcdURL(value)
        case "CONSUL_HTTP_ADDR": text = try consulURL(value)
        default: text = "zookeeper://" + value
        }
        do {
            return try StoreURL(parsing: text)
        } catch let error as NodeListError {
            throw NodeListError(code: .invalidStoreURL, message: "$\(variable): \(error.message)")
        }
    }

    /// `http://h1:2379,https://h2:2379` or `h1:2379,h2:2379` → `etcd[s]://h1:2379,h2:2379`.
    /// An endpoint without a scheme uses TLS when `ETCDCTL_CACERT`, `ETCDCTL_CERT` or `ETCDCTL_KEY`
    /// is set or `ETCDCTL_INSECURE_SKIP_TLS_VERIFY` is true, as etcdctl and
    /// `EtcdClient.Configuration.fromEnvironment()` decide.
    static func etcdURL(_ value: String) throws -> String {
        let tlsVariables = ["ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY"].contains { environment($0) != nil }
            || ["true", "1", "yes"].contains(environment("ETCDCTL_INSECURE_SKIP_TLS_VERIFY")?.lowercased() ?? "")
        var tls: Bool?
        var hosts: [String] = []
        for endpoint in value.split(separator: ",").map({ $0.trimmingWhitespace }) where !endpoint.isEmpty {
            var host = endpoint
            var secure = tlsVariables
            if host.hasPrefix("https://") {
                host.removeFirst("https://".count)
                secure = true
            } else if host.hasPrefix("http://") {
                host.removeFirst("http://".count)
                secure = false
            } else if host.contains("://") {
                throw NodeListError(
                    code: .invalidStoreURL,
                    message: "$ETCDCTL_ENDPOINTS \(shown(endpoint)) is not http://HOST:PORT or https://HOST:PORT — set it to such endpoints, comma-separated")
            }
            if host.hasSuffix("/") { host.removeLast() }
            if let known = tls, known != secure {
                throw NodeListError(
                    code: .invalidStoreURL,
                    message: "$ETCDCTL_ENDPOINTS mixes http:// and https:// endpoints — use one scheme for all of them")
            }
            tls = secure
            hosts.append(host)
        }
        guard !hosts.isEmpty else {
            throw NodeListError(code: .invalidStoreURL, message: "$ETCDCTL_ENDPOINTS names no endpoint — set it to HOST:PORT[,HOST:PORT…]")
        }
        return (tls == true ? "etcds://" : "etcd://") + hosts.joined(separator: ",")
    }

    /// `127.0.0.1:8500`, `http://…` or `https://…` (or `CONSUL_HTTP_SSL=true`) → `consul[s]://…`.
    static func consulURL(_ value: String) throws -> String {
        var host = value.trimmingWhitespace
        var tls = ["1", "true", "yes"].contains(environment("CONSUL_HTTP_SSL")?.lowercased() ?? "")
        if host.hasPrefix("https://") {
            host.removeFirst("https://".count)
            tls = true
        } else if host.hasPrefix("http://") {
            host.removeFirst("http://".count)
        } else if host.contains("://") {
            throw NodeListError(
                code: .invalidStoreURL,
                message: "$CONSUL_HTTP_ADDR \(shown(value)) is not HOST:PORT, http://HOST:PORT or https://HOST:PORT — set it to one of those")
        }
        if host.hasSuffix("/") { host.removeLast() }
        return (tls ? "consuls://" : "consul://") + host
    }
}

extension Substring {
    var trimmingWhitespace: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

extension String {
    var trimmingWhitespace: String { self[...].trimmingWhitespace }
}
