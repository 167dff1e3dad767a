/// A service to register with the local Consul agent (`PUT /v1/agent/service/register`).
public struct ConsulServiceRegistration: Sendable, Hashable, Encodable {
    /// The service instance's ID, unique on the agent. Default `nil`: the name.
    public var id: String?
    /// The service's name, shared by all its instances (what `health.service(_:)` looks up).
    public var name: String
    /// Tags to filter on. Default none.
    public var tags: [String]
    /// The instance's address. Default `nil`: the agent's node address.
    public var address: String?
    /// The instance's port. Default `nil`.
    public var port: Int?
    /// Free-form metadata. Default empty.
    public var meta: [String: String]
    /// Health checks for the instance. Default none.
    public var checks: [ConsulCheckDefinition]

    /// Creates a registration.
    public init(
        id: String? = nil, name: String, tags: [String] = [], address: String? = nil, port: Int? = nil,
        meta: [String: String] = [:], checks: [ConsulCheckDefinition] = []
    ) {
        self.id = id
        self.name = name
        self.tags = tags
        self.address = address
        self.port = port
        self.meta = meta
        self.checks = checks
    }

    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", tags = "Tags", address = "Address", port = "Port", meta = "Meta"
        case checks = "Checks"
    }

    /// Encodes Consul's JSON.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(id, forKey: .id)
        try c.encode(name, forKey: .name)
        if !tags.isEmpty { try c.encode(tags, forKey: .tags) }
        try c.encodeIfPresent(address, forKey: .address)
        try c.encodeIfPresent(port, forKey: .port)
        if !meta.isEmpty { try c.encode(meta, forKey: .meta) }
        if !checks.isEmpty { try c.encode(checks, forKey: .checks) }
    }
}
