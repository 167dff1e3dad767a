import Configuration

@available(macOS 15.0, *)
extension ZooKeeperClient.Configuration {
    /// A configuration from swift-configuration's `ConfigReader`. Scope the reader to where the
    /// keys live, e.g. `reader.scoped(to: "zookeeper")`.
    ///
    /// | key | type | sets | default |
    /// |---|---|---|---|
    /// | `connectString` | string (**required**) | ``connectString`` | — |
    /// | `sessionTimeout`, `connectTimeout`, `operationTimeout` | double, seconds | ``sessionTimeout``, ``connectTimeout``, ``operationTimeout`` | 10 s, 15 s, 10 s |
    /// | `digest` | string, **secret**: `user:password` | ``authentication`` (one `digest` credential) | none |
    /// | `allowReadOnly` | bool | ``allowReadOnly`` | `false` |
    ///
    /// As with swift-configuration's other optional getters, a value of the wrong type counts
    /// as unset. The digest is read as a secret, so access reporters redact it.
    /// - Throws: swift-configuration's error when `connectString` is missing; ``ZooKeeperError``
    ///   `.badArguments` when a time-out is not positive or the digest is not `user:password`.
    public init(configReader: ConfigReader) throws {
        self.init(connectString: try configReader.requiredString(forKey: "connectString"))
        func seconds(_ key: String) throws -> Duration? {
            guard let seconds = configReader.double(forKey: ConfigKey(key)) else { return nil }
            guard seconds.isFinite, seconds > 0, seconds < 1e9 else {
                throw ZooKeeperError.badArguments("\(key) is \(seconds) — set it to a positive number of seconds")
            }
            return .nanoseconds(Int64(seconds * 1e9))
        }
        if let value = try seconds("sessionTimeout") { sessionTimeout = value }
        if let value = try seconds("connectTimeout") { connectTimeout = value }
        if let value = try seconds("operationTimeout") { operationTimeout = value }
        if let digest = configReader.string(forKey: "digest", isSecret: true) {
            guard let colon = digest.firstIndex(of: ":"), colon != digest.startIndex else {
                throw ZooKeeperError.badArguments("digest is not user:password — set it to the digest credential as user:password")
            }
            authentication = [(scheme: "digest", credentials: digest)]
        }
        if let allow = configReader.bool(forKey: "allowReadOnly") { allowReadOnly = allow }
    }
}
