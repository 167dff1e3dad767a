import Coordination
import Consul
import Logging
import NIOConcurrencyHelpers

/// The recipes on Consul, as Consul's leader-election guide and Go's `api.Lock` do them: each
/// contender creates a session (renewed every third of its TTL), takes the key with
/// `PUT ?acquire=`, and while another session holds it waits with a blocking query on the key.
/// The holder watches the key: deleted, rewritten or released by invalidation means lost.
struct ConsulCoordinationBackend: CoordinationBackend {
    let client: ConsulClient
    let configuration: CoordinationStore.Configuration

    func summary(of error: any Error) -> String? { (error as? ConsulError)?.summary }

    /// `error` in one line: a ``ConsulError`` as its summary, anything else as its text.
    static func summary(of error: any Error) -> String {
        (error as? ConsulError)?.summary ?? CoordinationError.summary(of: error)
    }

    var storeName: String { "Consul" }

    static func key(_ key: String) -> String {
        var key = Substring(key)
        while key.hasPrefix("/") { key = key.dropFirst() }
        while key.hasSuffix("/") { key = key.dropLast() }
        return String(key)
    }

    func contend(key: String, value: [UInt8]) async throws -> any Contender {
        try await ConsulContender.start(client: client, key: Self.key(key), value: value, behavior: .release,
                                        lockDelay: configuration.consulLockDelay, configuration: configuration)
    }

    func register(group: String, name: String, value: [UInt8]) async throws -> (contender: any Contender, token: UInt64) {
        guard !name.isEmpty, !name.contains("/") else {
            throw CoordinationError(code: .invalidArgument, message: "a presence name cannot be empty or contain \"/\" (got \"\(name)\")")
        }
        let key = Self.key(group) + "/" + name
        // `delete`: an invalidated member's entry disappears; no lock-delay, so a restarted member
        // can register its name again at once.
        let contender = try await ConsulContender.start(client: client, key: key, value: value, behavior: .delete,
                                                        lockDelay: .zero, configuration: configuration)
        do {
            guard let token = try await contender.tryTurn() else {
                throw CoordinationError(code: .nameTaken, message: "\(key) is held by another live session — pick another name or wait until that session ends")
            }
            return (contender, token)
        } catch {
            try? await contender.withdraw()
            throw error
        }
    }

    func leaders(key: String) -> AsyncThrowingStream<Leader?, any Error> {
        let kv = client.kv, key = Self.key(key)
        return .producing { continuation in
            var delivered: Leader?? = .none
            for try await entry in kv.watch(key, wait: .seconds(30)) {
                let leader = entry.flatMap { $0.session == nil ? nil : Leader(value: $0.value, token: $0.modifyIndex) }
                if delivered != .some(leader) {
                    continuation.yield(leader)
                    delivered = .some(leader)
                }
            }
        }
    }

    static func members(_ entries: [ConsulKeyValue], prefix: String) -> [PresenceMember] {
        entries.filter { $0.session != nil && $0.key.hasPrefix(prefix) && $0.key.count > prefix.count }
            .map { PresenceMember(name: String($0.key.dropFirst(prefix.count)), value: $0.value) }
            .filter { !$0.name.contains("/") }
            .sorted { $0.name < $1.name }
    }

    func members(group: String) async throws -> [PresenceMember] {
        let prefix = Self.key(group) + "/"
        return Self.members(try await client.kv.list(prefix, consistency: .consistent), prefix: prefix)
    }

    func memberChanges(group: String) -> AsyncThrowingStream<[PresenceMember], any Error> {
        let kv = client.kv, prefix = Self.key(group) + "/"
        return .producing { continuation in
            var delivered: [PresenceMember]?
            for try await entries in kv.watch(prefix: prefix, wait: .seconds(30)) {
                let members = Self.members(entries, prefix: prefix)
                if delivered != members {
                    continuation.yield(members)
                    delivered = members
                }
            }
        }
    }
}

/// One Consul contender: its session (renewed and watched) and, once acquired, its key (watched).
///
/// Owns the renewal task, the renewal deadline and (once acquired) the watch of its key; they
/// live until `withdraw()` — a release, the loss itself, a failed or cancelled acquire, or the
/// `HeldLock` being dropped — which releases the key and destroys the session.
final class ConsulContender: Contender {
    private struct State {
        /// The last instant the session is certainly valid (see `startSession`).
        var deadline: ContinuousClock.Instant
        var held: ConsulKeyValue?
        var tasks: [Task<Void, Never>] = []
        var withdrawn = false
    }

    let client: ConsulClient
    let key: String
    let value: [UInt8]
    let sessionID: String
    /// `.release` for locks; `.delete` for presence entries (destroying the session deletes them).
    let behavior: ConsulSessionBehavior
    let signal = LossSignal()
    private let logger: Logger
    private let state: NIOLockedValueBox<State>

    private init(client: ConsulClient, key: String, value: [UInt8], sessionID: String, behavior: ConsulSessionBehavior,
                 ttl: Duration, created: ContinuousClock.Instant, logger: Logger) {
        self.behavior = behavior
        self.client = client
        self.key = key
        self.value = value
        self.sessionID = sessionID
        self.logger = logger
        state = NIOLockedValueBox(State(deadline: created + ttl))
        signal.setOnLoss { [weak self] in
            guard let self else { return }
            Task { try? await self.withdraw() }
        }
    }

    static func start(client: ConsulClient, key: String, value: [UInt8], behavior: ConsulSessionBehavior,
                      lockDelay: Duration, configuration: CoordinationStore.Configuration) async throws -> ConsulContender {
        guard !key.isEmpty else {
            throw CoordinationError(code: .invalidArgument, message: "a Consul key cannot be empty — pass e.g. /locks/my-job")
        }
        let sent = ContinuousClock.now
        let id = try await client.sessions.create(
            name: "autocluster \(key)", ttl: configuration.ttl, behavior: behavior, lockDelay: lockDelay,
            nodeChecks: configuration.consulNodeChecks)
        let contender = ConsulContender(client: client, key: key, value: value, sessionID: id, behavior: behavior,
                                        ttl: configuration.ttl,
                                        created: sent, logger: configuration.logger)
        contender.startSession(ttl: configuration.ttl)
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

    /// Renews the session every third of its TTL and fires the signal when it is invalidated, or
    /// when no renewal is confirmed in time. Consul keeps a session at least its TTL after it
    /// receives a renewal, which is after the renewal was sent: so the session is certainly
    /// valid until *the last successful renewal's send time + TTL* — that deadline passes before
    /// Consul can invalidate the session (the holder learns first), with two thirds of the TTL
    /// of slack in steady state. (Renewing here rather than with a `ConsulSessionKeeper` is what
    /// makes the send time known.)
    private func startSession(ttl: Duration) {
        let client = self.client, signal = self.signal, state = self.state, logger = self.logger, id = sessionID
        add(Task {
            var interval = ttl / 3
            while !Task.isCancelled {
                guard (try? await Task.sleep(for: interval)) != nil else { return }
                let sent = ContinuousClock.now
                do {
                    let session = try await client.sessions.renew(id)
                    let granted = min(session.ttl ?? ttl, ttl)
                    state.withLockedValue { $0.deadline = max($0.deadline, sent + granted) }
                    interval = granted / 3
                } catch let error as ConsulError where error.code == .sessionInvalidated {
                    signal.fire(.sessionEnded)
                    return
                } catch let error as ConsulError where Self.transient.contains(error.code) {
                    logger.debug("consul session renewal failed; retrying", error: error, metadata: ["coordination.session": "\(id)"])
                    interval = .milliseconds(Int.random(in: 200...500))
                } catch {
                    guard !Task.isCancelled else { return }
                    signal.fire(.storeError(ConsulCoordinationBackend.summary(of: error)))
                    return
                }
            }
        })
        add(Task {
            while !Task.isCancelled {
                let deadline = state.withLockedValue { $0.deadline }
                let now = ContinuousClock.now
                if now >= deadline {
                    logger.debug("consul session renewal not confirmed within its TTL", metadata: ["coordination.session": "\(id)"])
                    signal.fire(.sessionUnconfirmed)
                    return
                }
                try? await Task.sleep(until: min(deadline, now + .milliseconds(100)), clock: .continuous)
            }
        })
    }

    func tryTurn() async throws -> UInt64? {
        guard try await client.kv.acquire(key, session: sessionID, value: value) else { return nil }
        guard let entry = try await client.kv.get(key, consistency: .consistent), entry.session == sessionID else {
            signal.fire(.keyRewritten)
            throw CoordinationError.lost(.keyRewritten, "the lock on \(key)")
        }
        state.withLockedValue { $0.held = entry }
        watchKey(entry)
        return entry.modifyIndex
    }

    private func watchKey(_ held: ConsulKeyValue) {
        let kv = client.kv, key = self.key, signal = self.signal
        add(Task {
            do {
                for try await entry in kv.watch(key, wait: .seconds(30), consistency: .consistent) {
                    guard let entry else {
                        signal.fire(.keyDeleted)
                        return
                    }
                    if entry.session == nil {
                        signal.fire(.sessionEnded)  // released by the session's invalidation
                        return
                    }
                    if entry.session != held.session || entry.modifyIndex != held.modifyIndex {
                        signal.fire(.keyRewritten)
                        return
                    }
                }
            } catch {
                guard !Task.isCancelled else { return }
                signal.fire(.storeError(ConsulCoordinationBackend.summary(of: error)))
            }
        })
    }

    /// Failures a waiting contender retries (its session keeps its place; the signal fires if
    /// the session is lost meanwhile), as `ConsulSessionKeeper` and the watches retry them.
    static let transient: [ConsulError.Code] = [.unreachable, .timeout, .noLeader, .serverError, .badResponse]

    func waitForTurn() async throws -> UInt64 {
        while true {
            do {
                if let token = try await waitOnce() { return token }
            } catch let error as ConsulError where Self.transient.contains(error.code) {
                try await Task.sleep(for: .milliseconds(Int.random(in: 200...400)))
            }
        }
    }

    /// One attempt, then a blocking query until the key changes; the token when acquired.
    private func waitOnce() async throws -> UInt64? {
        try Task.checkCancellation()
        if let token = try await tryTurn() { return token }
        let current = try await client.kv.getWithMeta(key, consistency: .consistent)
        guard current.value?.session != nil else {
            // Free but not ours: a lock-delay applies, or another contender was faster.
            try await Task.sleep(for: .milliseconds(Int.random(in: 200...400)))
            return nil
        }
        // Held by another session: block until the key changes (released, deleted, rewritten).
        _ = try await client.kv.get(key, waitIndex: max(current.index, 1), wait: .seconds(30), consistency: .consistent)
        return nil
    }

    func withdraw() async throws {
        let tasks = state.withLockedValue { state -> [Task<Void, Never>]? in
            if state.withdrawn { return nil }
            state.withdrawn = true
            return state.tasks
        }
        guard let tasks else { return }
        for task in tasks { task.cancel() }
        let client = self.client, key = self.key, id = sessionID, value = self.value
        // Also when not known to be held: an acquire cancelled in flight may have been applied,
        // and destroying a session that holds the key would impose the lock-delay on everyone.
        let release = behavior == .release
        try await Task {
            var failure: (any Error)?
            if release {
                do {
                    _ = try await client.kv.release(key, session: id, value: value)
                } catch {
                    failure = error
                }
            }
            // Destroying deletes a presence entry (behavior `delete`); otherwise the session ends by its TTL.
            do {
                try await client.sessions.destroy(id)
            } catch {
                failure = failure ?? error
            }
            if let failure { throw failure }
        }.value
    }
}
