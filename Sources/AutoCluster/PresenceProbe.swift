import NIOConcurrencyHelpers

/// A `NodeProbe` that asks the store instead of the node: a listed node answers when a member of
/// the same name is alive in a `Presence` group — its ZooKeeper ephemeral node, etcd lease or
/// Consul session still exists.
///
/// It lets a `NodeListService` take the store's own liveness signal: run a
/// `PresenceService` for each node beside its `NodeListService` (the same name in both), and
/// give the node list this probe. Nodes then count as alive while their sessions are, whatever
/// the links between them do; a crashed node's entry vanishes after its session timeout / TTL,
/// and the majority of the members then sweep it from the list as they would after failed probes.
///
/// ```swift
/// let store = CoordinationStore.etcd(etcd)
/// let workers = store.presence("/presence/my-service")
/// let list = NodeListStore(backend: .etcd(etcd), key: "/autocluster/my-service",
///                          probe: PresenceProbe(presence: workers, otherwise: TCPProbe()))
/// let services: [any Service] = [
///     PresenceService(presence: workers, name: node.name, value: Array(node.address.utf8)),
///     NodeListService(store: list, node: node),
/// ]
/// ```
///
/// With `otherwise` (say a `TCPProbe`) a node also counts as alive when that probe answers, so
/// a live node whose session was lost (a long pause, a partition from the store) is not swept
/// while it still answers. Without it, presence alone decides.
///
/// Probes that run at the same time (one probe round) share one read of the group; each round
/// reads it afresh, so no answer is older than the round that asked.
public struct PresenceProbe: NodeProbe {
    /// The group whose live members count as alive.
    public let presence: Presence
    /// A probe that may also declare a node alive; nil for presence alone.
    public let otherwise: (any NodeProbe)?
    private let reads: ReadCoalescer

    /// Creates the probe.
    /// - Parameters:
    ///   - presence: the group the nodes join under their node names.
    ///   - otherwise: a probe tried when the node is not present (and whose "alive" counts); nil
    ///     for presence alone. Default nil.
    public init(presence: Presence, otherwise: (any NodeProbe)? = nil) {
        self.presence = presence
        self.otherwise = otherwise
        self.reads = ReadCoalescer(presence: presence)
    }

    /// True when `node.name` is a live member of the group (read within `timeout`), or else when
    /// `otherwise` answers within what is left of `timeout`. A failed read, or one still running
    /// at the timeout (a store that does not answer), counts as absent.
    public func probe(_ node: ClusterNode, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        if let names = await reads.names(within: timeout), names.contains(node.name) { return true }
        guard let otherwise else { return false }
        let left = deadline - ContinuousClock.now
        guard left > .zero else { return false }
        return await otherwise.probe(node, timeout: left)
    }
}

/// One read of the group's names, shared by the probes that ask while it is in flight and was
/// started no longer ago than their own timeout.
private final class ReadCoalescer: Sendable {
    private struct Read {
        var id: UInt64
        var started: ContinuousClock.Instant
        var task: Task<Set<String>?, Never>
    }

    private let presence: Presence
    private let state = NIOLockedValueBox<(next: UInt64, read: Read?)>((0, nil))

    init(presence: Presence) { self.presence = presence }

    /// The live members' names, or nil when the read failed or has not finished after `timeout`.
    func names(within timeout: Duration) async -> Set<String>? {
        let now = ContinuousClock.now
        let read = state.withLockedValue { state -> Task<Set<String>?, Never> in
            if let current = state.read, now - current.started < timeout { return current.task }
            let id = state.next
            state.next += 1
            let presence = presence
            let task = Task<Set<String>?, Never> {
                defer { self.state.withLockedValue { if $0.read?.id == id { $0.read = nil } } }
                return try? Set(await presence.members().map(\.name))
            }
            state.read = Read(id: id, started: now, task: task)
            return task
        }
        // Not a task group racing `read.value` against a sleep: a group waits for all its
        // children before it returns, and `Task.value` does not end when its waiter is
        // cancelled, so a store that never answers would hold the probe past its timeout.
        return await withCheckedContinuation { continuation in
            let pending = NIOLockedValueBox<CheckedContinuation<Set<String>?, Never>?>(continuation)
            @Sendable func finish(_ names: Set<String>?) {
                pending.withLockedValue { waiting in
                    waiting?.resume(returning: names)
                    waiting = nil
                }
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                finish(nil)
            }
            Task {
                finish(await read.value)
                timer.cancel()
            }
        }
    }
}
