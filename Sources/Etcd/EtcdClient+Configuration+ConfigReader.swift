import Configuration

@available(macOS 15.0, *)
extension EtcdClient.Configuration {
    /// A configuration from swift-configuration's `ConfigReader` (environment variables, JSON
    /// files, command-line arguments, … — whatever providers the reader has). Scope the reader
    /// to where the keys live, e.g. `reader.scoped(to: "etcd")`.
    ///
    /// | key | type | sets | default |
    /// |---|---|---|---|
    /// | `endpoints` | string array (**required**) | ``endpoints`` | — |
    /// | `tls.caFile` | string | ``TLS/caFile`` (turns TLS on) | system trust roots |
    /// | `tls.certificateFile`, `tls.keyFile` | string | ``TLS/certificateFile``, ``TLS/keyFile`` (mTLS) | none |
    /// | `tls.serverName` | string | ``TLS/serverName`` | the endpoint's host |
    /// | `tls.verifyCertificates` | bool | ``TLS/verifyCertificates`` | `true` |
    /// | `credentials.username` | string | ``Credentials/username`` | no authentication |
    /// | `credentials.password` | string, **secret** | ``Credentials/password`` | — |
    /// | `timeouts.connect`, `timeouts.request` | double, seconds | ``Timeouts/connect``, ``Timeouts/request`` | 3 s, 5 s |
    /// | `retry.maxAttempts` | int | ``Retry/maxAttempts`` | 5 |
    ///
    /// As with swift-configuration's other optional getters, a value of the wrong type counts
    /// as unset. The password is read as a secret, so access reporters redact it.
    /// - Throws: swift-configuration's error when `endpoints` is missing; ``EtcdError``
    ///   `.invalidArgument` when a user name has no password, or a time-out is not positive.
    public init(configReader: ConfigReader) throws {
        self.init(endpoints: try configReader.requiredStringArray(forKey: "endpoints"))
        let tls = configReader.scoped(to: "tls")
        let caFile = tls.string(forKey: "caFile"), certificateFile = tls.string(forKey: "certificateFile")
        let keyFile = tls.string(forKey: "keyFile"), serverName = tls.string(forKey: "serverName")
        let verify = tls.bool(forKey: "verifyCertificates")
        if caFile != nil || certificateFile != nil || keyFile != nil || serverName != nil || verify != nil {
            self.tls = TLS(caFile: caFile, certificateFile: certificateFile, keyFile: keyFile,
                           serverName: serverName, verifyCertificates: verify ?? true)
        }
        let credentials = configReader.scoped(to: "credentials")
        if let username = credentials.string(forKey: "username") {
            guard let password = credentials.string(forKey: "password", isSecret: true) else {
                throw EtcdError.invalidArgument("credentials.username is set without credentials.password — set both, or neither")
            }
            self.credentials = Credentials(username: username, password: password)
        }
        let timeouts = configReader.scoped(to: "timeouts")
        if let seconds = timeouts.double(forKey: "connect") {
            self.timeouts.connect = try Self.positive(seconds, key: "timeouts.connect")
        }
        if let seconds = timeouts.double(forKey: "request") {
            self.timeouts.request = try Self.positive(seconds, key: "timeouts.request")
        }
        if let attempts = configReader.int(forKey: "retry.maxAttempts") {
            guard attempts >= 1 else {
                throw EtcdError.invalidArgument("retry.maxAttempts is \(attempts) — set it to 1 or more")
            }
            self.retry.maxAttempts = attempts
        }
    }

    private static func positive(_ seconds: Double, key: String) throws -> Duration {
        guard seconds.isFinite, seconds > 0, seconds < 1e9 else {
            throw EtcdError.invalidArgument("\(key) is \(seconds) — set it to a positive number of seconds")
        }
        return .nanoseconds(Int64(seconds * 1e9))
    }
}
