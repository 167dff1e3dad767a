/// A service instance as the agent or the catalog reports it.
public struct ConsulAgentService: Sendable, Hashable, Decodable {
    /// The instance's ID.
    public var id: String
    /// The service's name.
    public var service: String
    /// The instance's tags.
    public var tags: [String]
    /// The instance's address (empty: the node's address).
    public var address: String
    /// The instance's port.
    public var port: Int
    /// The instance's metadata.
    public var meta: [String: String]

    enum CodingKeys: String, CodingKey {
        case id = "ID", service = "Service", tags = "Tags", address = "Address", port = "Port", meta = "Meta"
    }

    /// Decodes Consul's JSON.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        service = try c.decode(String.self, forKey: .service)
        tags = try c.decodeIfPresent([String].self, forKey: .tags) ?? []
        address = try c.decodeIfPresent(String.self, forKey: .address) ?? ""
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 0
        meta = try c.decodeIfPresent([String: String].self, forKey: .meta) ?? [:]
    }
}

/// A node of the Consul cluster.
public struct ConsulNode: Sendable, Hashable, Decodable {
    /// The node's ID.
    public var id: String
    /// The node's name.
    public var node: String
    /// The node's address.
    public var address: String
    /// The node's datacenter.
    public var datacenter: String

    enum CodingKeys: String, CodingKey {
        case id = "ID", node = "Node", address = "Address", datacenter = "Datacenter"
    }

    /// Decodes Consul's JSON.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
        node = try c.decode(String.self, forKey: .node)
        address = try c.decodeIfPresent(String.self, forKey: .address) ?? ""
        datacenter = try c.decodeIfPresent(String.self, forKey: .datacenter) ?? ""
    }
}

/// One instance of a service with its node and checks (`GET /v1/health/service/:name`).
public struct ConsulServiceEntry: Sendable, Hashable, Decodable {
    /// The node the instance runs on.
    public var node: ConsulNode
    /// The instance.
    public var service: ConsulAgentService
    /// The node's and the instance's checks.
    public var checks: [ConsulHealthCheck]

    /// The worst status of the checks (`critical` > `warning` > `passing`); `passing` without checks.
    public var aggregatedStatus: ConsulHealthStatus {
        let statuses = Set(checks.map(\.status))
        if statuses.contains(.maintenance) { return .maintenance }
        if statuses.contains(.critical) { return .critical }
        if statuses.contains(.warning) { return .warning }
        return .passing
    }

    enum CodingKeys: String, CodingKey {
        case node = "Node", service = "Service", checks = "Checks"
    }
}
