#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension EtcdClient.Configuration {
    /// A configuration from the environment variables `etcdctl` reads, so a service configured
    /// for `etcdctl` needs nothing else:
    ///
    /// | variable | sets | default |
    /// |---|---|---|
    /// | `ETCDCTL_ENDPOINTS` | ``endpoints`` (comma-separated) | `127.0.0.1:2379` |
    /// | `ETCDCTL_CACERT` | ``TLS/caFile`` (turns TLS on) | system trust roots |
    /// | `ETCDCTL_CERT`, `ETCDCTL_KEY` | ``TLS/certificateFile``, ``TLS/keyFile`` (mTLS; turn TLS on) | none |
    /// | `ETCDCTL_INSECURE_SKIP_TLS_VERIFY` | `true`: ``TLS/verifyCertificates`` off | verify |
    /// | `ETCDCTL_USER` | ``credentials``: `user:password`, or `user` with `ETCDCTL_PASSWORD` | none |
    /// | `ETCDCTL_PASSWORD` | the password of `ETCDCTL_USER` (a secret: never logged) | none |
    /// | `ETCDCTL_DIAL_TIMEOUT` | ``Timeouts/connect`` (a Go duration: `2s`, `500ms`, `1m30s`) | 3 s |
    /// | `ETCDCTL_COMMAND_TIMEOUT` | ``Timeouts/request`` (a Go duration) | 5 s |
    ///
    /// Empty variables count as unset. An endpoint without a scheme uses TLS when any TLS
    /// variable is set, as `etcdctl` does; `https://` endpoints always do.
    /// - Parameter environment: the variables; default the process environment.
    /// - Throws: ``EtcdError`` `.invalidArgument` naming the variable whose value is malformed
    ///   (never its value when it is a secret).
    public static func fromEnvironment(_ environment: [String: String]? = nil) throws -> Self {
        let environment = environment ?? processEnvironment()
        func value(_ name: String) -> String? {
            guard let v = environment[name]?.trimmingSpaces, !v.isEmpty else { return nil }
            return v
        }
        let endpoints = (value("ETCDCTL_ENDPOINTS") ?? "127.0.0.1:2379").split(separator: ",")
            .map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        guard !endpoints.isEmpty else {
            throw EtcdError.invalidArgument("ETCDCTL_ENDPOINTS lists no endpoint — set it to e.g. http://127.0.0.1:2379")
        }
        var configuration = Self(endpoints: endpoints)

        let skipVerify: Bool
        switch value("ETCDCTL_INSECURE_SKIP_TLS_VERIFY")?.lowercased() {
        case nil, "false", "0", "no": skipVerify = false
        case "true", "1", "yes": skipVerify = true
        case let other?:
            throw EtcdError.invalidArgument("ETCDCTL_INSECURE_SKIP_TLS_VERIFY is \"\(other)\" — set it to true or false")
        }
        let caFile = value("ETCDCTL_CACERT"), certificateFile = value("ETCDCTL_CERT"), keyFile = value("ETCDCTL_KEY")
        if (certificateFile == nil) != (keyFile == nil) {
            throw EtcdError.invalidArgument(
                "\(certificateFile == nil ? "ETCDCTL_KEY" : "ETCDCTL_CERT") is set without \(certificateFile == nil ? "ETCDCTL_CERT" : "ETCDCTL_KEY") — set both for a client certificate, or neither")
        }
        if caFile != nil || certificateFile != nil || skipVerify {
            configuration.tls = TLS(caFile: caFile, certificateFile: certificateFile, keyFile: keyFile,
                                    verifyCertificates: !skipVerify)
        }

        if let user = value("ETCDCTL_USER") {
            let password = environment["ETCDCTL_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
            if let colon = user.firstIndex(of: ":"), password == nil {
                configuration.credentials = Credentials(username: String(user[..<colon]),
                                                        password: String(user[user.index(after: colon)...]))
            } else if let password {
                configuration.credentials = Credentials(username: user, password: password)
            } else {
                throw EtcdError.invalidArgument(
                    "ETCDCTL_USER names a user but no password — set ETCDCTL_USER=user:password, or ETCDCTL_PASSWORD")
            }
            if configuration.credentials?.username.isEmpty == true {
                throw EtcdError.invalidArgument("ETCDCTL_USER has an empty user name — set it to user:password")
            }
        } else if value("ETCDCTL_PASSWORD") != nil {
            throw EtcdError.invalidArgument("ETCDCTL_PASSWORD is set without ETCDCTL_USER — set the user too")
        }

        if let text = value("ETCDCTL_DIAL_TIMEOUT") {
            configuration.timeouts.connect = try goDuration(text, variable: "ETCDCTL_DIAL_TIMEOUT")
        }
        if let text = value("ETCDCTL_COMMAND_TIMEOUT") {
            configuration.timeouts.request = try goDuration(text, variable: "ETCDCTL_COMMAND_TIMEOUT")
        }
        return configuration
    }

    /// Parses a positive Go duration (`300ms`, `2s`, `1.5s`, `1m30s`, `1h`; units ns, us, µs,
    /// ms, s, m, h), as `etcdctl`'s timeout flags take them.
    static func goDuration(_ text: String, variable: String) throws -> Duration {
        let invalid = EtcdError.invalidArgument(
            "\(variable) is \"\(text)\", not a duration — write it as etcdctl does, e.g. 2s, 500ms or 1m30s")
        var rest = Substring(text)
        var total = Duration.zero
        guard !rest.isEmpty else { throw invalid }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !$0.isNumber && $0 != "." }
            rest = rest.dropFirst(unit.count)
            guard let amount = Double(number), amount.isFinite else { throw invalid }
            let nanoseconds: Double
            switch unit {
            case "ns": nanoseconds = 1
            case "us", "µs", "μs": nanoseconds = 1e3
            case "ms": nanoseconds = 1e6
            case "s": nanoseconds = 1e9
            case "m": nanoseconds = 60e9
            case "h": nanoseconds = 3600e9
            default: throw invalid
            }
            let value = amount * nanoseconds
            guard value < 1e18 else { throw invalid }
            total += .nanoseconds(Int64(value))
        }
        guard total > .zero else { throw invalid }
        return total
    }

    /// The process's environment variables.
    private static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        #if canImport(Darwin)
        guard var pointer = _NSGetEnviron()?.pointee else { return [:] }
        #else
        var pointer = environ
        #endif
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
