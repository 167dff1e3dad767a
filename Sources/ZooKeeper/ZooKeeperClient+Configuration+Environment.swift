import Foundation

extension ZooKeeperClient.Configuration {
    /// A configuration from environment variables. ZooKeeper's own tools read none (`zkCli.sh`
    /// takes `-server` and `-timeout`), so these follow the client's parameters:
    ///
    /// | variable | sets | default |
    /// |---|---|---|
    /// | `ZOOKEEPER_CONNECT` | ``connectString``: `host:port[,host:port…][/chroot]` | `127.0.0.1:2181` |
    /// | `ZOOKEEPER_SESSION_TIMEOUT_MS` | ``sessionTimeout``, in milliseconds (as `zkCli.sh -timeout`) | 10,000 |
    /// | `ZOOKEEPER_DIGEST` | ``authentication``: one `digest` credential, `user:password` (a secret: never logged) | none |
    ///
    /// Empty variables count as unset.
    /// - Parameter environment: the variables; default the process environment.
    /// - Throws: ``ZooKeeperError`` `.badArguments` naming the variable whose value is malformed
    ///   (never the value of a secret).
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Self {
        func value(_ name: String) -> String? {
            guard let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        var configuration = Self(connectString: value("ZOOKEEPER_CONNECT") ?? "127.0.0.1:2181")
        if let text = value("ZOOKEEPER_SESSION_TIMEOUT_MS") {
            guard let milliseconds = Int(text), milliseconds > 0 else {
                throw ZooKeeperError.badArguments(
                    "ZOOKEEPER_SESSION_TIMEOUT_MS is \"\(text)\" — set it to a positive number of milliseconds, e.g. 10000")
            }
            configuration.sessionTimeout = .milliseconds(milliseconds)
        }
        if let digest = environment["ZOOKEEPER_DIGEST"], !digest.isEmpty {
            guard let colon = digest.firstIndex(of: ":"), colon != digest.startIndex else {
                throw ZooKeeperError.badArguments("ZOOKEEPER_DIGEST is not user:password — set it to the digest credential as user:password")
            }
            configuration.authentication = [(scheme: "digest", credentials: digest)]
        }
        return configuration
    }
}
