import Foundation

/// Consul sessions (`/v1/session`), reached through `ConsulClient.sessions`.
///
/// A session ties locks (`ConsulKV.acquire`) to a TTL and/or node health checks: when the
/// session is invalidated (destroyed, TTL not renewed, node check critical) its locks are
/// released or its locked keys deleted, depending on `behavior`. Keep a TTL session alive
/// with `renew(_:)` or a `ConsulSessionKeeper`.
public struct ConsulSessions: Sendable {
    let client: ConsulClient

    /// Creates a session (`PUT /v1/session/create`).
    /// - Parameters:
    ///   - name: a human-readable name. Default none.
    ///   - ttl: the session must be renewed within this time (Consul accepts 10 s to 24 h and may
    ///     wait up to twice it before invalidating). Default `nil`: no TTL, only node checks.
    ///   - behavior: what invalidation does to locked keys. Default `.release`.
    ///   - lockDelay: how long a lock released by invalidation cannot be re-acquired. Default `nil`:
    ///     Consul's 15 s. `.zero` disables it.
    ///   - nodeChecks: the node checks tying the session to the node's health. Default `nil`:
    ///     Consul's `["serfHealth"]`; `[]` ties it to none (a TTL-only session).
    ///   - node: the node to create the session for. Default `nil`: the agent's node.
    /// - Returns: the new session's ID.
    /// - Throws: `ConsulError` (`.invalidArgument` for a non-positive TTL; Consul's 500 for a TTL
    ///   outside its bounds is `.serverError` with Consul's message).
    public func create(
        name: String? = nil, ttl: Duration? = nil, behavior: ConsulSessionBehavior = .release,
        lockDelay: Duration? = nil, nodeChecks: [String]? = nil, node: String? = nil
    ) async throws -> String {
        struct Body: Encodable {
            var Name: String?
            var TTL: String?
            var Behavior: String
            var LockDelay: String?
            var NodeChecks: [String]?
            var Node: String?
        }
        if let ttl, ttl <= .zero {
            throw ConsulError(.invalidArgument, message: "a session TTL must be positive (Consul accepts 10s to 24h)")
        }
        if let lockDelay, lockDelay < .zero {
            throw ConsulError(.invalidArgument, message: "a session lock delay cannot be negative")
        }
        let body = Body(
            Name: name, TTL: ttl?.goString, Behavior: behavior.rawValue, LockDelay: lockDelay?.goString,
            NodeChecks: nodeChecks, Node: node)
        struct Created: Decodable { var ID: String }
        let response = try await client.send(
            .PUT, "/v1/session/create", body: try ConsulClient.encodeJSON(body), operation: "session.create")
        return try response.decode(Created.self).ID
    }

    /// Renews a TTL session (`PUT /v1/session/renew/:id`).
    /// - Parameter id: the session's ID.
    /// - Returns: the session as Consul now has it (its `ttl` may be longer than requested:
    ///   renew again within it).
    /// - Throws: `ConsulError` with `.sessionInvalidated` when the session no longer exists
    ///   (destroyed, or its TTL expired): its locks are gone, create a new session.
    @discardableResult
    public func renew(_ id: String) async throws -> ConsulSession {
        let path = try Self.path("renew", id)
        let response = try await client.send(.PUT, path, okStatuses: [404], operation: "session.renew")
        let sessions = response.status == 404 ? [] : try response.decode([ConsulSession].self)
        guard let session = sessions.first else {
            throw ConsulError(
                .sessionInvalidated,
                message: "session \(id) no longer exists (destroyed, or its TTL expired) — its locks were released "
                    + "or its keys deleted; create a new session",
                httpStatus: response.status, consulMessage: response.text, path: path)
        }
        return session
    }

    /// Destroys a session (`PUT /v1/session/destroy/:id`): its locks are released or its
    /// keys deleted as its behavior says. Destroying an unknown session is not an error.
    /// - Parameter id: the session's ID.
    /// - Throws: `ConsulError`.
    public func destroy(_ id: String) async throws {
        _ = try await client.send(.PUT, try Self.path("destroy", id), operation: "session.destroy")
    }

    /// Reads one session (`GET /v1/session/info/:id`).
    /// - Parameters:
    ///   - id: the session's ID.
    ///   - consistency: the read's consistency mode; default the configuration's.
    /// - Returns: the session, or `nil` when it does not exist.
    /// - Throws: `ConsulError`.
    public func info(_ id: String, consistency: ConsulConsistency? = nil) async throws -> ConsulSession? {
        try await info(id, waitIndex: nil, wait: nil, consistency: consistency).value
    }

    /// Reads one session, as a blocking query when `waitIndex` and `wait` are given.
    /// - Throws: `ConsulError`.
    public func info(
        _ id: String, waitIndex: UInt64?, wait: Duration?, consistency: ConsulConsistency? = nil
    ) async throws -> ConsulQueryResult<ConsulSession?> {
        let result = try await read(try Self.path("info", id), waitIndex: waitIndex, wait: wait, consistency)
        return .init(value: result.value.first, meta: result.meta)
    }

    /// Lists every session in the datacenter (`GET /v1/session/list`).
    /// - Throws: `ConsulError`.
    public func list(consistency: ConsulConsistency? = nil) async throws -> [ConsulSession] {
        try await read("/v1/session/list", waitIndex: nil, wait: nil, consistency).value
    }

    /// Lists every session in the datacenter, as a blocking query when `waitIndex` and `wait` are given.
    /// - Throws: `ConsulError`.
    public func list(waitIndex: UInt64?, wait: Duration?, consistency: ConsulConsistency? = nil) async throws
        -> ConsulQueryResult<[ConsulSession]>
    {
        try await read("/v1/session/list", waitIndex: waitIndex, wait: wait, consistency)
    }

    /// Lists the sessions of one node (`GET /v1/session/node/:node`).
    /// - Throws: `ConsulError`.
    public func list(node: String, consistency: ConsulConsistency? = nil) async throws -> [ConsulSession] {
        try await read(try Self.path("node", node), waitIndex: nil, wait: nil, consistency).value
    }

    private func read(
        _ path: String, waitIndex: UInt64?, wait: Duration?, _ consistency: ConsulConsistency?
    ) async throws(ConsulError) -> ConsulQueryResult<[ConsulSession]> {
        let query = client.readQuery(consistency: consistency, waitIndex: waitIndex, wait: wait)
        let response = try await client.send(
            .GET, path, query: query, blockingWait: waitIndex == nil ? nil : wait, operation: "session.read")
        return .init(value: try response.decode([ConsulSession]?.self) ?? [], meta: response.meta)
    }

    static func path(_ action: String, _ id: String) throws(ConsulError) -> String {
        guard !id.isEmpty, !id.contains("/") else {
            throw ConsulError(
                .invalidArgument, message: "\"\(id)\" is not a session ID or node name — pass the ID create() returned")
        }
        return "/v1/session/\(action)/" + ConsulClient.escapePath(id)
    }
}

extension ConsulClient {
    /// Sessions: create, renew, destroy, info, list.
    public var sessions: ConsulSessions { ConsulSessions(client: self) }

    /// The query items of a read: consistency, then `index`/`wait` for a blocking query.
    func readQuery(consistency: ConsulConsistency?, waitIndex: UInt64?, wait: Duration?) -> [(String, String?)] {
        var query: [(String, String?)] = []
        if let item = (consistency ?? configuration.defaultConsistency).queryItem { query.append(item) }
        if let waitIndex, let wait {
            query.append(("index", String(waitIndex)))
            query.append(("wait", wait.goString))
        }
        return query
    }

    static func encodeJSON<T: Encodable>(_ value: T) throws(ConsulError) -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(value))
        } catch {
            throw ConsulError(.invalidArgument, message: "cannot encode the request body as JSON", underlying: error)
        }
    }
}
