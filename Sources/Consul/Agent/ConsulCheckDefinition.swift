/// A health check to register with a service (Consul API docs, "Check Definition").
///
/// ```swift
/// .ttl(.seconds(30))                                   // the service reports in with passTTL
/// .http("http://10.0.0.5:8080/health", interval: .seconds(10))
/// .tcp("10.0.0.5:7001", interval: .seconds(10), timeout: .seconds(1))
/// ```
public struct ConsulCheckDefinition: Sendable, Hashable, Encodable {
    /// The check's ID. Default `nil`: Consul derives one (`service:<service id>`, numbered when
    /// there are several); pass one to refer to it in `passTTL(_:)` and friends.
    public var id: String?
    /// The check's name. Default `nil`: Consul's "Service '<name>' check".
    public var name: String?
    /// Free-form notes for operators. Default `nil`.
    public var notes: String?
    /// The check's status until it first runs or reports. Default `nil`: Consul's `critical`.
    public var initialStatus: ConsulHealthStatus?
    /// Deregister the service when this check has been critical this long. Default `nil`: never.
    public var deregisterCriticalServiceAfter: Duration?

    var ttl: Duration?
    var http: String?
    var method: String?
    var tcp: String?
    var interval: Duration?
    var timeout: Duration?

    /// A TTL check: the service must report with `ConsulAgent.passTTL` (or warn/fail) within `ttl`,
    /// or the check turns critical.
    public static func ttl(_ ttl: Duration, id: String? = nil, name: String? = nil) -> Self {
        var check = Self()
        check.ttl = ttl
        check.id = id
        check.name = name
        return check
    }

    /// An HTTP check: the agent requests `url` every `interval`; 2xx is passing, 429 warning,
    /// anything else critical.
    /// - Parameters:
    ///   - url: the URL the agent requests.
    ///   - interval: how often the agent runs the check.
    ///   - timeout: the request's timeout. Default `nil`: Consul's 10 s.
    ///   - method: the HTTP method. Default `nil`: GET.
    ///   - id: the check's ID. Default `nil`: Consul chooses one.
    ///   - name: the check's name. Default `nil`: Consul chooses one.
    public static func http(
        _ url: String, interval: Duration, timeout: Duration? = nil, method: String? = nil, id: String? = nil,
        name: String? = nil
    ) -> Self {
        var check = Self()
        check.http = url
        check.method = method
        check.interval = interval
        check.timeout = timeout
        check.id = id
        check.name = name
        return check
    }

    /// A TCP check: the agent connects to `address` (`host:port`) every `interval`.
    /// - Parameters:
    ///   - address: `host:port` to connect to.
    ///   - interval: how often the agent runs the check.
    ///   - timeout: the connect timeout. Default `nil`: Consul's 10 s.
    ///   - id: the check's ID. Default `nil`: Consul chooses one.
    ///   - name: the check's name. Default `nil`: Consul chooses one.
    public static func tcp(
        _ address: String, interval: Duration, timeout: Duration? = nil, id: String? = nil, name: String? = nil
    ) -> Self {
        var check = Self()
        check.tcp = address
        check.interval = interval
        check.timeout = timeout
        check.id = id
        check.name = name
        return check
    }

    private init() {}

    enum CodingKeys: String, CodingKey {
        case id = "CheckID", name = "Name", notes = "Notes", initialStatus = "Status"
        case deregisterCriticalServiceAfter = "DeregisterCriticalServiceAfter"
        case ttl = "TTL", http = "HTTP", method = "Method", tcp = "TCP", interval = "Interval", timeout = "Timeout"
    }

    /// Encodes Consul's JSON (durations as Go duration strings).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(id, forKey: .id)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encodeIfPresent(notes, forKey: .notes)
        try c.encodeIfPresent(initialStatus?.rawValue, forKey: .initialStatus)
        try c.encodeIfPresent(deregisterCriticalServiceAfter?.goString, forKey: .deregisterCriticalServiceAfter)
        try c.encodeIfPresent(ttl?.goString, forKey: .ttl)
        try c.encodeIfPresent(http, forKey: .http)
        try c.encodeIfPresent(method, forKey: .method)
        try c.encodeIfPresent(tcp, forKey: .tcp)
        try c.encodeIfPresent(interval?.goString, forKey: .interval)
        try c.encodeIfPresent(timeout?.goString, forKey: .timeout)
    }

    /// Why the definition cannot be registered, if it cannot.
    var problem: String? {
        if let ttl { return ttl > .zero ? nil : "a TTL check needs a positive TTL" }
        if http != nil || tcp != nil {
            guard let interval, interval > .zero else { return "HTTP and TCP checks need a positive interval" }
            if let http, !(http.hasPrefix("http://") || http.hasPrefix("https://")) {
                return "the HTTP check URL \"\(http)\" must start with http:// or https://"
            }
            if let tcp, tcp.isEmpty || !tcp.contains(":") { return "the TCP check address \"\(tcp)\" must be host:port" }
            return nil
        }
        return "a check needs a TTL, an HTTP URL or a TCP address"
    }
}
