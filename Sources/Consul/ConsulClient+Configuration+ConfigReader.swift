import Configuration

@available(macOS 15.0, *)
extension ConsulClient.Configuration {
    /// A configuration from swift-configuration's `ConfigReader`. Scope the reader to where the
    /// keys live, e.g. `reader.scoped(to: "consul")`.
    ///
    /// | key | type | sets | default |
    /// |---|---|---|---|
    /// | `address` | string | ``address`` | `http://127.0.0.1:8500` |
    /// | `token` | string, **secret** | ``token`` | none |
    /// | `datacenter`, `namespace` | string | ``datacenter``, ``namespace`` | the agent's |
    /// | `tls.caFile`, `tls.clientCertificateFile`, `tls.clientKeyFile`, `tls.serverName` | string | the ``TLS`` fields (turn TLS on) | none |
    /// | `timeouts.connect`, `timeouts.request` | double, seconds | ``Timeouts/connect``, ``Timeouts/request`` | 5 s, 30 s |
    /// | `maximumConnections` | int | ``maximumConnections`` | 32 |
    ///
    /// As with swift-configuration's other optional getters, a value of the wrong type counts
    /// as unset. The token is read as a secret, so access reporters redact it.
    /// - Throws: ``ConsulError`` `.invalidArgument` when a time-out is not positive or
    ///   `maximumConnections` is below 1.
    public init(configReader: ConfigReader) throws {
        self.init(address: configReader.string(forKey: "address") ?? "http://127.0.0.1:8500",
                  token: configReader.string(forKey: "token", isSecret: true),
                  datacenter: configReader.string(forKey: "datacenter"))
        namespace = configReader.string(forKey: "namespace")
        let tls = configReader.scoped(to: "tls")
        let caFile = tls.string(forKey: "caFile"), certificate = tls.string(forKey: "clientCertificateFile")
        let key = tls.string(forKey: "clientKeyFile"), serverName = tls.string(forKey: "serverName")
        if caFile != nil || certificate != nil || key != nil || serverName != nil {
            self.tls = TLS(caFile: caFile, clientCertificateFile: certificate, clientKeyFile: key, serverName: serverName)
        }
        func seconds(_ key: String) throws -> Duration? {
            guard let seconds = configReader.double(forKey: ConfigKey(key)) else { return nil }
            guard seconds.isFinite, seconds > 0, seconds < 1e9 else {
                throw ConsulError(.invalidArgument, message: "\(key) is \(seconds) — set it to a positive number of seconds")
            }
            return .nanoseconds(Int64(seconds * 1e9))
        }
        if let value = try seconds("timeouts.connect") { timeouts.connect = value }
        if let value = try seconds("timeouts.request") { timeouts.request = value }
        if let connections = configReader.int(forKey: "maximumConnections") {
            guard connections >= 1 else {
                throw ConsulError(.invalidArgument, message: "maximumConnections is \(connections) — set it to 1 or more")
            }
            maximumConnections = connections
        }
    }
}
