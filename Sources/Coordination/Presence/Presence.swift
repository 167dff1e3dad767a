/// Store-managed membership: each member's entry is bound to its session (a ZooKeeper ephemeral
/// node, an etcd lease, a Consul session with behavior `delete`), so the store removes a dead
/// member by itself.
///
/// ```swift
/// let workers = CoordinationStore.zooKeeper(zk).presence("/presence/workers")
/// let me = try await workers.join(name: "worker-1", value: Array("10.0.0.5:7001".utf8))
/// for try await members in workers.watch() { print(members.map(\.name)) }
/// try await me.release()                               // leave
/// ```
///
/// Pick it over `NodeListStore` when "alive" should mean "its session is alive": there are no
/// probes and no sweeps, and a crashed member vanishes after its session timeout / TTL. The price:
/// an entry also vanishes when its member merely loses its session (a long pause, a partition) —
/// watch the registration's ``HeldLock/events`` and join again. `NodeListStore` keeps a member
/// listed through such pauses and decides liveness by probing.
public struct Presence: Sendable {
    /// The store the group lives in.
    public let store: CoordinationStore
    /// The group's key.
    public let group: String

    init(store: CoordinationStore, group: String) {
        self.store = store
        self.group = group
    }

    /// Adds this process's entry `name` to the group, bound to a session of its own.
    /// - Parameters:
    ///   - name: the member's name, unique in the group (no `/`).
    ///   - value: what the others see (e.g. an address). Default empty.
    /// - Returns: the registration: ``HeldLock/events`` reports its loss (session ended, entry
    ///   deleted), ``HeldLock/release()`` leaves the group; its token is the entry's creation
    ///   revision/zxid/index.
    /// - Throws: ``CoordinationError`` `.nameTaken` when a live member has that name, `.invalidArgument`, `.storeFailure`.
    public func join(name: String, value: [UInt8] = []) async throws -> HeldLock {
        guard !name.isEmpty, !name.contains("/") else {
            throw CoordinationError(code: .invalidArgument, message: "a presence name cannot be empty or contain \"/\" (got \"\(name)\")")
        }
        do {
            let (contender, token) = try await store.backend.register(group: group, name: name, value: value)
            return HeldLock(key: group + "/" + name, token: token, contender: contender)
        } catch {
            throw CoordinationError.store(error, "joining \(group) as \(name)", backend: store.backend)
        }
    }

    /// The live members, sorted by name.
    /// - Throws: ``CoordinationError`` `.storeFailure`.
    public func members() async throws -> [PresenceMember] {
        do {
            return try await store.backend.members(group: group)
        } catch {
            throw CoordinationError.store(error, "listing \(group)", backend: store.backend)
        }
    }

    /// The live members now, then after every join and departure, until the consuming task ends.
    public func watch() -> AsyncThrowingStream<[PresenceMember], any Error> {
        store.backend.memberChanges(group: group)
    }
}
