/// The local agent's services and checks (`/v1/agent`), reached through `ConsulClient.agent`.
public struct ConsulAgent: Sendable {
    let client: ConsulClient

    /// Registers (or replaces) a service instance with the agent.
    /// - Parameters:
    ///   - service: the instance and its checks.
    ///   - check: one more check, as in `register(service:check:)`. Default none.
    /// - Throws: `ConsulError` (`.invalidArgument` before sending for an empty name or an invalid check).
    public func register(service: ConsulServiceRegistration, check: ConsulCheckDefinition? = nil) async throws {
        var registration = service
        if let check { registration.checks.append(check) }
        guard !registration.name.isEmpty else {
            throw ConsulError(.invalidArgument, message: "a service registration needs a name")
        }
        for check in registration.checks {
            if let problem = check.problem {
                throw ConsulError(
                    .invalidArgument, message: "invalid check for service \"\(registration.name)\": \(problem)")
            }
        }
        _ = try await client.send(
            .PUT, "/v1/agent/service/register", body: try ConsulClient.encodeJSON(registration),
            operation: "agent.register")
    }

    /// Deregisters a service instance and its checks.
    /// - Parameter serviceID: the instance's ID (its name when it was registered without an ID).
    /// - Throws: `ConsulError` (`.notFound` for an unknown ID).
    public func deregister(serviceID: String) async throws {
        _ = try await client.send(
            .PUT, "/v1/agent/service/deregister/" + (try Self.escapeID(serviceID)), operation: "agent.deregister")
    }

    /// Marks a TTL check passing (and resets its TTL).
    /// - Parameters:
    ///   - checkID: the check's ID (`service:<service id>` unless one was given).
    ///   - note: the check's new output. Default none.
    /// - Throws: `ConsulError` (`.notFound` for an unknown check).
    public func passTTL(_ checkID: String, note: String? = nil) async throws {
        try await ttlUpdate("pass", checkID, note: note)
    }

    /// Marks a TTL check warning (and resets its TTL).
    /// - Throws: `ConsulError`.
    public func warnTTL(_ checkID: String, note: String? = nil) async throws {
        try await ttlUpdate("warn", checkID, note: note)
    }

    /// Marks a TTL check critical (and resets its TTL).
    /// - Throws: `ConsulError`.
    public func failTTL(_ checkID: String, note: String? = nil) async throws {
        try await ttlUpdate("fail", checkID, note: note)
    }

    /// Sets a TTL check's status and output (`PUT /v1/agent/check/update/:id`), resetting its TTL;
    /// unlike the `note` of `passTTL`, the output may be long (Consul keeps up to 4 KiB by default).
    /// - Parameters:
    ///   - checkID: the check's ID.
    ///   - status: `.passing`, `.warning` or `.critical`.
    ///   - output: the check's new output. Default empty.
    /// - Throws: `ConsulError` (`.invalidArgument` for another status, `.notFound` for an unknown check).
    public func updateTTL(_ checkID: String, status: ConsulHealthStatus, output: String = "") async throws {
        guard [.passing, .warning, .critical].contains(status) else {
            throw ConsulError(
                .invalidArgument, message: "a TTL check can be passing, warning or critical, not \(status)")
        }
        struct Body: Encodable {
            var Status: String
            var Output: String
        }
        let path = "/v1/agent/check/update/" + (try Self.escapeID(checkID))
        _ = try await client.send(
            .PUT, path, body: try ConsulClient.encodeJSON(Body(Status: status.rawValue, Output: output)),
            operation: "agent.check")
    }

    /// The service instances registered with this agent, by ID.
    /// - Throws: `ConsulError`.
    public func services() async throws -> [String: ConsulAgentService] {
        let response = try await client.send(.GET, "/v1/agent/services", operation: "agent.services")
        return try response.decode([String: ConsulAgentService].self)
    }

    /// The checks registered with this agent, by ID.
    /// - Throws: `ConsulError`.
    public func checks() async throws -> [String: ConsulHealthCheck] {
        let response = try await client.send(.GET, "/v1/agent/checks", operation: "agent.checks")
        return try response.decode([String: ConsulHealthCheck].self)
    }

    private func ttlUpdate(_ action: String, _ checkID: String, note: String?) async throws(ConsulError) {
        let path = "/v1/agent/check/\(action)/" + (try Self.escapeID(checkID))
        _ = try await client.send(.PUT, path, query: note.map { [("note", $0)] } ?? [], operation: "agent.check")
    }

    static func escapeID(_ id: String) throws(ConsulError) -> String {
        guard !id.isEmpty else { throw ConsulError(.invalidArgument, message: "the ID is empty") }
        return ConsulClient.escapePath(id)
    }
}

extension ConsulClient {
    /// The local agent: register/deregister services, TTL check updates.
    public var agent: ConsulAgent { ConsulAgent(client: self) }

    /// Service health (`/v1/health`), with blocking queries.
    public var health: ConsulHealth { ConsulHealth(client: self) }
}
