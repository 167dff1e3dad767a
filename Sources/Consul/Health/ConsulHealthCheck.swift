/// A health check's state (Consul's `HealthCheck`).
public struct ConsulHealthCheck: Sendable, Hashable, Decodable {
    /// The node the check runs on.
    public var node: String
    /// The check's ID.
    public var checkID: String
    /// The check's name.
    public var name: String
    /// The check's status.
    public var status: ConsulHealthStatus
    /// The check's notes.
    public var notes: String
    /// The last output of the check (or the note of the last TTL update).
    public var output: String
    /// The service the check belongs to; empty for node checks.
    public var serviceID: String
    /// The name of the service the check belongs to; empty for node checks.
    public var serviceName: String
    /// `ttl`, `http`, `tcp`, … (empty for node checks such as `serfHealth` on some versions).
    public var type: String

    enum CodingKeys: String, CodingKey {
        case node = "Node", checkID = "CheckID", name = "Name", status = "Status", notes = "Notes", output = "Output"
        case serviceID = "ServiceID", serviceName = "ServiceName", type = "Type"
    }

    /// Decodes Consul's JSON.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        node = try c.decodeIfPresent(String.self, forKey: .node) ?? ""
        checkID = try c.decode(String.self, forKey: .checkID)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        status = try c.decode(ConsulHealthStatus.self, forKey: .status)
        notes = try c.decodeIfPresent(String.self, forKey: .notes) ?? ""
        output = try c.decodeIfPresent(String.self, forKey: .output) ?? ""
        serviceID = try c.decodeIfPresent(String.self, forKey: .serviceID) ?? ""
        serviceName = try c.decodeIfPresent(String.self, forKey: .serviceName) ?? ""
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? ""
    }
}
