import Coordination
import Etcd
import Logging
import NIOConcurrencyHelpers

/// The recipes on etcd, as etcd's `concurrency` package does them: every contender has a lease
/// of its own and a key `KEY/<lease id hex>` bound to it (so `etcdctl lock KEY` and
/// `etcdctl elect KEY` interoperate); the holder is the key with the smallest create revision,
/// and each waiter watches the key just before its own for the delete.
struct EtcdCoordinationBackend: CoordinationBackend {
    let client: EtcdClient
    let configuration: CoordinationStore.Configuration

    func summary(of error: any Error) -> String? { (error as? EtcdError)?.summary }

    /// `error` in one line: a ``EtcdError`` as its summary, anything else as its text.
    static func summary(of error: any Error) -> String {
        (error as? EtcdError)?.summary ?? CoordinationError.summary(of: error)
    }

    var storeName: String { "etcd" }

    func contend(key: String, value: [UInt8]) async throws -> any Contender {
        let contender = try await EtcdContender.start(client: client, prefix: key + "/", configuration: configuration)
        do {
            let entry = contender.prefix + contender.lease.id.description
            guard try await contender.create(entry, value: value) else {
                throw CoordinationError(code: .storeFailure, message: "the etcd key \(entry) of a fresh lease already exists — is another client using the same lease?")
            }
            return contender
        } catch {
            try? await contender.withdraw()
            throw error
        }
    }

    func register(group: String, name: String, value: [UInt8]) async throws -> (contender: any Contender, token: UInt64) {
        let contender = try await EtcdContender.start(client: client, prefix: group + "/", configuration: configuration)
        do {
            guard try await contender.create(group + "/" + name, value: value) else {
                throw CoordinationError(code: .nameTaken, message: "\(group)/\(name) is held by another live member — pick another name or wait until its lease ends")
            }
            return (contender, UInt64(contender.entry.revision))
        } catch {
            try? await contender.withdraw()
            throw error
        }
    }

    func leaders(key: String) -> AsyncThrowingStream<Leader?, any Error> {
        let client = self.client
        return .producing { continuation in
            var delivered: Leader?? = .none
            while !Task.isCancelled {
                var request = EtcdRangeRequest.prefix(key + "/")
                request.sortTarget = .createRevision
                request.sortOrder = .ascend
                request.limit = 1
                let response = try await client.range(request)
                let leader = response.kvs.first.map { Leader(value: $0.value, token: UInt64($0.createRevision)) }
                if delivered != .some(leader) {
                    continuation.yield(leader)
                    delivered = .some(leader)
                }
                var changes = client.watch(prefix: key + "/", fromRevision: response.header.revision + 1).makeAsyncIterator()
                guard try await changes.next() != nil else { return }
            }
        }
    }

    func members(group: String) async throws -> [PresenceMember] {
        try await Self.members(client, group).members
    }

    private static func members(_ client: EtcdClient, _ group: String) async throws -> (members: [PresenceMember], revision: Int64) {
        let prefix = group + "/"
        let response = try await client.range(EtcdRangeRequest.prefix(prefix))
        let members = response.kvs.map { PresenceMember(name: String($0.keyString.dropFirst(prefix.count)), value: $0.value) }
        return (members.sorted { $0.name < $1.name }, response.header.revision)
    }

    func memberChanges(group: String) -> AsyncThrowingStream<[PresenceMember], any Error> {
        let client = self.client
        return .producing { continuation in
            var delivered: [PresenceMember]?
            while !Task.isCancelled {
                let (members, revision) = try await Self.members(client, group)
                if delivered != members {
                    continuation.yield(members)
                    delivered = members
                }
                var changes = client.watch(prefix: group + "/", fromRevision: revision + 1).makeAsyncIterator()
                guard try await changes.next() != nil else { return }
            }
        }
    }
}

/// One etcd contender: its lease, kept alive and watched, and its key.
///
/// Owns three background tasks (the keep-alive, the renewal deadline, the watch of its own key);
/// they live from `start` until `withdraw()` — called by a release, by the loss itself, by a
/// failed or cancelled acquire, or when the `HeldLock` is dropped.
final class EtcdContender: Contender {
    private struct State {
        /// The last instant the lease is certainly alive on the server (see `keepAlive`).
        var deadline: ContinuousClock.Instant
        /// When the latest renewal (or the grant) was seen; the next renewal was sent after it.
        var lastObserved: ContinuousClock.Instant
        var key: String?
        var createRevision: Int64 = 0
        var tasks: [Task<Void, Never>] = []
        var withdrawn = false
    }

    let client: EtcdClient
    let prefix: String
    let lease: EtcdLease
    let signal = LossSignal()
    private let logger: Logger
    private let state: NIOLockedValueBox<State>

    private init(client: EtcdClient, prefix: String, lease: EtcdLease, grantSent: ContinuousClock.Instant, logger: Logger) {
        self.client = client
        self.prefix = prefix
        self.lease = lease
        self.logger = logger
        // etcd starts the TTL when it grants, which is after the request was sent.
        state = NIOLockedValueBox(State(deadline: grantSent + lease.ttl, lastObserved: grantSent))
        signal.setOnLoss { [weak self] in
            guard let self else { return }
            Task { try? await self.withdraw() }
        }
    }

    /// Grants the lease and starts keeping it alive.
    static func start(client: EtcdClient, prefix: String, configuration: CoordinationStore.Configuration) async throws -> EtcdContender {
        let sent = ContinuousClock.now
        let lease = try await client.grantLease(ttl: configuration.ttl)
        let contender = EtcdContender(client: client, prefix: prefix, lease: lease, grantSent: sent, logger: configuration.logger)
        contender.startKeepAlive()
        return contender
    }

    private func add(_ task: Task<Void, Never>) {
        let cancel = state.withLockedValue { state -> Bool in
            if state.withdrawn { return true }
            state.tasks.append(task)
            return false
        }
        if cancel { task.cancel() }
    }

    /// Renews the lease and fires the signal when it is gone, or when no renewal is confirmed in
    /// time. A renewal seen at `t` was sent after the previous one was seen, and etcd restarts the
    /// TTL when it receives it: so the lease is certainly alive until *previous sighting + TTL*.
    /// That deadline passes before etcd can expire the lease — the holder learns first.
    private func startKeepAlive() {
        let client = self.client, lease = self.lease, id = self.lease.id, signal = self.signal, state = self.state, logger = self.logger
        add(Task {
            do {
                for try await event in client.keepAlive(lease) {
                    switch event {
                    case .renewed(let ttl):
                        state.withLockedValue { state in
                            state.deadline = state.lastObserved + ttl
                            state.lastObserved = .now
                        }
                    case .expired:
                        signal.fire(.sessionEnded)
                        return
                    }
                }
                if !Task.isCancelled { signal.fire(.clientClosed) }
            } catch {
                guard !Task.isCancelled else { return }
                logger.debug("etcd lease keep-alive failed", error: error, metadata: ["coordination.lease": "\(id)"])
                signal.fire((error as? EtcdError)?.code == .closed ? .clientClosed : .storeError(EtcdCoordinationBackend.summary(of: error)))
            }
        })
        add(Task {
            while !Task.isCancelled {
                let deadline = state.withLockedValue { $0.deadline }
                let now = ContinuousClock.now
                if now >= deadline {
                    logger.debug("etcd lease renewal not confirmed within its TTL", metadata: ["coordination.lease": "\(id)"])
                    signal.fire(.sessionUnconfirmed)
                    return
                }
                try? await Task.sleep(until: min(deadline, now + .milliseconds(100)), clock: .continuous)
            }
        })
    }

    /// Creates `key` bound to the lease unless it exists; then watches it for foreign changes.
    /// - Returns: false when the key exists.
    func create(_ key: String, value: [UInt8]) async throws -> Bool {
        let response = try await client.txn(
            compare: [.createRevision(key, .equal, 0)], success: [.put(key, value: value, lease: lease.id)], failure: [])
        guard response.succeeded else { return false }
        let revision = response.header.revision
        state.withLockedValue { state in
            state.key = key
            state.createRevision = revision
        }
        let client = self.client, signal = self.signal
        add(Task {
            do {
                for try await event in client.watch(key, fromRevision: revision + 1) {
                    signal.fire(event.type == .delete ? .keyDeleted : .keyRewritten)
                    return
                }
            } catch {
                guard !Task.isCancelled else { return }
                signal.fire((error as? EtcdError)?.code == .closed ? .clientClosed : .storeError(EtcdCoordinationBackend.summary(of: error)))
            }
        })
        return true
    }

    var entry: (key: String, revision: Int64) {
        state.withLockedValue { ($0.key ?? "", $0.createRevision) }
    }

    /// The key with the largest create revision below ours (nil: we hold the lock), and the
    /// revision of the read.
    private func predecessor() async throws -> (key: String?, revision: Int64) {
        let (key, revision) = entry
        var request = EtcdRangeRequest.prefix(prefix)
        request.sortTarget = .createRevision
        request.sortOrder = .ascend
        request.keysOnly = true
        let response = try await client.range(request)
        guard response.kvs.contains(where: { $0.keyString == key }) else {
            signal.fire(.keyDeleted)
            throw CoordinationError.lost(.keyDeleted, "the lock on \(prefix.dropLast())")
        }
        let previous = response.kvs.last { $0.createRevision < revision }
        return (previous?.keyString, response.header.revision)
    }

    func waitForTurn() async throws -> UInt64 {
        while true {
            try Task.checkCancellation()
            let (previous, revision) = try await predecessor()
            guard let previous else { return UInt64(entry.revision) }
            logger.debug("etcd lock waits for its predecessor", metadata: ["coordination.key": "\(entry.key)", "coordination.predecessor": "\(previous)"])
            for try await event in client.watch(previous, fromRevision: revision + 1) where event.type == .delete {
                break
            }
        }
    }

    func tryTurn() async throws -> UInt64? {
        try await predecessor().key == nil ? UInt64(entry.revision) : nil
    }

    func withdraw() async throws {
        let tasks = state.withLockedValue { state -> [Task<Void, Never>]? in
            if state.withdrawn { return nil }
            state.withdrawn = true
            return state.tasks
        }
        guard let tasks else { return }
        for task in tasks { task.cancel() }
        let client = self.client, id = lease.id
        // Revoking deletes the key; in a task of its own so a cancelled caller still cleans up.
        try await Task {
            do {
                try await client.revokeLease(id)
            } catch let error as EtcdError where error.code == .notFound {
                // Already expired or revoked.
            }
        }.value
    }
}
