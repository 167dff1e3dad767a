import Foundation

/// What Consul does with a session's locked keys when the session is invalidated
/// (Consul API docs, "Session HTTP Endpoint": `Behavior`).
public enum ConsulSessionBehavior: String, Sendable, Hashable, Codable {
    /// The locks are released; the keys stay. Consul's default.
    case release
    /// The locked keys are deleted (ephemeral keys).
    case delete
}

/// A Consul session, as `GET /v1/session/info/:id` returns it.
public struct ConsulSession: Sendable, Hashable, Decodable {
    /// The session's ID (a UUID), passed as `acquire`/`release` to KV writes.
    public var id: String
    /// The session's name (may be empty).
    public var name: String
    /// The node the session belongs to.
    public var node: String
    /// How long a lock released by this session's invalidation cannot be re-acquired.
    public var lockDelay: Duration
    /// What happens to locked keys when the session is invalidated.
    public var behavior: ConsulSessionBehavior
    /// The TTL, when the session has one: it must be renewed within it (Consul waits up to twice it).
    public var ttl: Duration?
    /// The node health checks the session is tied to (usually `serfHealth`).
    public var nodeChecks: [String]
    /// The index that created the session.
    public var createIndex: UInt64
    /// The index of the session's last change.
    public var modifyIndex: UInt64

    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", node = "Node", lockDelay = "LockDelay", behavior = "Behavior", ttl = "TTL"
        case nodeChecks = "NodeChecks", checks = "Checks", createIndex = "CreateIndex", modifyIndex = "ModifyIndex"
    }

    /// Decodes Consul's JSON (`LockDelay` in nanoseconds, `TTL` as a Go duration string).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        node = try c.decodeIfPresent(String.self, forKey: .node) ?? ""
        if let nanoseconds = try? c.decodeIfPresent(Int64.self, forKey: .lockDelay) {
            lockDelay = .nanoseconds(nanoseconds)
        } else if let text = try? c.decodeIfPresent(String.self, forKey: .lockDelay) {
            lockDelay = Duration.parseGo(text) ?? .zero
        } else {
            lockDelay = .zero
        }
        let behaviorText = try c.decodeIfPresent(String.self, forKey: .behavior) ?? "release"
        behavior = ConsulSessionBehavior(rawValue: behaviorText) ?? .release
        let ttlText = try c.decodeIfPresent(String.self, forKey: .ttl) ?? ""
        ttl = ttlText.isEmpty ? nil : Duration.parseGo(ttlText)
        nodeChecks =
            try c.decodeIfPresent([String].self, forKey: .nodeChecks)
            ?? c.decodeIfPresent([String].self, forKey: .checks) ?? []
        createIndex = try c.decodeIfPresent(UInt64.self, forKey: .createIndex) ?? 0
        modifyIndex = try c.decodeIfPresent(UInt64.self, forKey: .modifyIndex) ?? 0
    }
}
