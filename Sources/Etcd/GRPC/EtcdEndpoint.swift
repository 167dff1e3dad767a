/// A parsed etcd endpoint: `http://host:port`, `https://host:port`, `etcd://`, `etcds://`,
/// or a bare `host:port` (plain text unless TLS is configured).
struct EtcdEndpoint: Hashable, Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    var tls: Bool

    var description: String { "\(tls ? "https" : "http")://\(authority)" }
    var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// True when `host` is an IPv4 or IPv6 literal (no SNI / DNS-name check for those).
    var hostIsIPAddress: Bool {
        if host.contains(":") { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Parses one endpoint URL; throws `.invalidArgument` with what is wrong.
    static func parse(_ text: String, defaultTLS: Bool) throws -> EtcdEndpoint {
        var rest = Substring(text.trimmingSpaces)
        var tls = defaultTLS
        if let range = rest.firstRange(of: "://") {
            let scheme = rest[..<range.lowerBound].lowercased()
            switch scheme {
            case "http", "etcd", "unix": tls = false
            case "https", "etcds": tls = true
            default:
                throw EtcdError.invalidArgument(
                    "endpoint \"\(text)\" has scheme \"\(scheme)\" — use http://host:port, https://host:port, etcd:// or etcds://")
            }
            if scheme == "unix" {
                throw EtcdError.invalidArgument("endpoint \"\(text)\": unix sockets are not supported — use http://host:port")
            }
            rest = rest[range.upperBound...]
        }
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...].allSatisfy({ $0 == "/" }) else {
                throw EtcdError.invalidArgument("endpoint \"\(text)\" has a path — give only scheme://host:port")
            }
            rest = rest[..<slash]
        }
        let host: Substring
        let portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw EtcdError.invalidArgument("endpoint \"\(text)\": unterminated IPv6 address — write [::1]:2379")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            portText = after.hasPrefix(":") ? after.dropFirst() : (after.isEmpty ? nil : after)
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
            portText = nil
        }
        guard !host.isEmpty else {
            throw EtcdError.invalidArgument("endpoint \"\(text)\" has no host — write e.g. http://127.0.0.1:2379")
        }
        // Host names, IPv4 and IPv6 literals use only these; anything else (spaces, control
        // characters, '@', '?', …) is a typo that DNS would only report as an unknown host.
        guard host.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-._:%".unicodeScalars.contains($0)) }) else {
            throw EtcdError.invalidArgument("endpoint \"\(text)\" has characters a host name cannot contain — write e.g. http://127.0.0.1:2379")
        }
        var port = 2379
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else {
                throw EtcdError.invalidArgument("endpoint \"\(text)\" has an invalid port \"\(portText)\" — use 1…65535")
            }
            port = p
        }
        return EtcdEndpoint(host: String(host), port: port, tls: tls)
    }
}

extension String {
    var trimmingSpaces: String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
