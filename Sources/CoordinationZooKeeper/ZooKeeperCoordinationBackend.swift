import Coordination
import Logging
import NIOConcurrencyHelpers
import ZooKeeper

/// The recipes on ZooKeeper, as its documented lock recipe (and Curator's `InterProcessMutex`)
/// does them: each contender creates an ephemeral sequential node `KEY/_c_<uuid>-lock-N`
/// (the uuid finds the node again after a connection loss during the create), the holder is the
/// lowest sequence, and each waiter watches only the node just before its own (no herd effect).
struct ZooKeeperCoordinationBackend: CoordinationBackend {
    let client: ZooKeeperClient
    let configuration: CoordinationStore.Configuration

    func summary(of error: any Error) -> String? { (error as? ZooKeeperError)?.summary }

    /// `error` in one line: a ``ZooKeeperError`` as its summary, anything else as its text.
    static func summary(of error: any Error) -> String {
        (error as? ZooKeeperError)?.summary ?? CoordinationError.summary(of: error)
    }

    var storeName: String { "ZooKeeper" }

    static func path(_ key: String) -> String {
        var path = key.hasPrefix("/") ? key : "/" + key
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    func contend(key: String, value: [UInt8]) async throws -> any Contender {
        let directory = Self.path(key)
        try await Self.ensurePath(client, directory)
        let protection = "_c_" + Self.randomHex() + "-lock-"
        let path: String, stat: ZooKeeperStat
        do {
            (path, stat) = try await Self.createProtected(client, directory: directory, protection: protection, value: value)
        } catch {
            // A create cancelled or failed in flight may still have been applied: remove it, so an
            // orphan node does not block the queue until the session ends.
            let client = self.client
            Task {
                for name in (try? await client.children(directory)) ?? [] where name.hasPrefix(protection) {
                    try? await client.delete(directory + "/" + name)
                }
            }
            throw error
        }
        let contender = ZooKeeperContender(client: client, directory: directory, path: path, stat: stat,
                                           lossOnDisconnect: configuration.zooKeeperLossOnDisconnect, logger: configuration.logger)
        contender.startMonitoring()
        return contender
    }

    func register(group: String, name: String, value: [UInt8]) async throws -> (contender: any Contender, token: UInt64) {
        guard !name.isEmpty, !name.contains("/") else {
            throw CoordinationError(code: .invalidArgument, message: "a presence name cannot be empty or contain \"/\" (got \"\(name)\")")
        }
        let directory = Self.path(group)
        try await Self.ensurePath(client, directory)
        let path = directory + "/" + name
        let stat: ZooKeeperStat
        do {
            stat = try await client.createWithStat(path, data: value, mode: .ephemeral).stat
        } catch let error as ZooKeeperError where error.code == .nodeExists {
            // Ours, when a create that lost its connection was applied after all.
            guard let existing = try await client.exists(path), existing.ephemeralOwner == client.session?.id else {
                throw CoordinationError(code: .nameTaken, message: "\(path) is held by another live session — pick another name or wait until that session ends")
            }
            stat = existing
        } catch {
            // A create cancelled or failed in flight may still have been applied: remove our node,
            // or it would stay listed until the session ends.
            let client = self.client, session = client.session?.id
            Task {
                if let orphan = try? await client.exists(path), orphan.ephemeralOwner == session {
                    try? await client.delete(path, version: orphan.version)
                }
            }
            throw error
        }
        let contender = ZooKeeperContender(client: client, directory: directory, path: path, stat: stat,
                                           lossOnDisconnect: false, logger: configuration.logger)
        contender.startMonitoring()
        return (contender, contender.token)
    }

    /// Creates `directory` and its missing parents (persistent, empty).
    static func ensurePath(_ client: ZooKeeperClient, _ directory: String) async throws {
        if try await client.exists(directory) != nil { return }
        var path = ""
        for component in directory.split(separator: "/") {
            path += "/" + component
            do {
                try await client.create(path)
            } catch let error as ZooKeeperError where error.code == .nodeExists {}
        }
    }

    /// Creates the sequential node; after a connection loss, looks for it by its protection prefix
    /// before creating again, so a create that was applied is not doubled.
    static func createProtected(_ client: ZooKeeperClient, directory: String, protection: String,
                                value: [UInt8]) async throws -> (String, ZooKeeperStat) {
        var attempt = 0
        while true {
            do {
                return try await client.createWithStat(directory + "/" + protection, data: value, mode: .ephemeralSequential)
            } catch let error as ZooKeeperError where error.isRetryable && attempt < 10 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(100 * attempt))
                if let children = try? await client.children(directory),
                   let name = children.first(where: { $0.hasPrefix(protection) }),
                   let stat = try? await client.exists(directory + "/" + name) {
                    return (directory + "/" + name, stat)
                }
            }
        }
    }

    static func randomHex() -> String {
        (0..<2).map { _ in
            let hex = String(UInt64.random(in: .min ... .max), radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// The sequence number of a lock node's name (its last 10 digits), or nil for other names.
    static func sequence(_ name: String) -> Int64? {
        guard name.contains("-lock-"), name.count > 10 else { return nil }
        return Int64(name.suffix(10))
    }

    /// The lock queue of `directory`, lowest sequence first.
    static func queue(_ client: ZooKeeperClient, _ directory: String) async throws -> [String] {
        let children: [String]
        do {
            children = try await client.children(directory)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return []
        }
        return children.compactMap { name in sequence(name).map { (name, $0) } }.sorted { $0.1 < $1.1 }.map(\.0)
    }

    static func currentLeader(_ client: ZooKeeperClient, _ directory: String) async throws -> Leader? {
        for _ in 0..<20 {
            guard let first = try await queue(client, directory).first else { return nil }
            do {
                let (data, stat) = try await client.get(directory + "/" + first)
                return Leader(value: data, token: UInt64(bitPattern: stat.czxid))
            } catch let error as ZooKeeperError where error.code == .noNode {
                continue  // it just left: read the queue again
            }
        }
        return nil
    }

    func leaders(key: String) -> AsyncThrowingStream<Leader?, any Error> {
        let client = self.client, directory = Self.path(key)
        return .producing { continuation in
            var delivered: Leader?? = .none
            for try await _ in client.watchChildren(directory) {
                let leader = try await Self.currentLeader(client, directory)
                if delivered != .some(leader) {
                    continuation.yield(leader)
                    delivered = .some(leader)
                }
            }
        }
    }

    func members(group: String) async throws -> [PresenceMember] {
        let directory = Self.path(group)
        let children: [String]
        do {
            children = try await client.children(directory)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return []
        }
        var members: [PresenceMember] = []
        for name in children.sorted() {
            do {
                let (data, stat) = try await client.get(directory + "/" + name)
                if stat.ephemeralOwner != 0 { members.append(PresenceMember(name: name, value: data)) }
            } catch let error as ZooKeeperError where error.code == .noNode {}
        }
        return members
    }

    func memberChanges(group: String) -> AsyncThrowingStream<[PresenceMember], any Error> {
        let directory = Self.path(group)
        return .producing { continuation in
            var delivered: [PresenceMember]?
            for try await _ in client.watchChildren(directory) {
                let members = try await self.members(group: group)
                if delivered != members {
                    continuation.yield(members)
                    delivered = members
                }
            }
        }
    }
}

/// One ZooKeeper contender: its node, watched, and the client's session, watched.
///
/// Owns two background tasks (the session-state listener, the watch of its own node); they live
/// from `startMonitoring()` until `withdraw()` — a release, the loss itself, a failed or
/// cancelled acquire, or the `HeldLock` being dropped.
final class ZooKeeperContender: Contender {
    private struct State {
        var tasks: [Task<Void, Never>] = []
        var withdrawn = false
        /// Set once this contender holds the lock: from then on a dropped connection is a loss.
        /// While it only waits, its node survives a short drop and it keeps waiting.
        var holding = false
    }

    let client: ZooKeeperClient
    let directory: String
    let path: String
    let name: String
    let stat: ZooKeeperStat
    let lossOnDisconnect: Bool
    let signal = LossSignal()
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    init(client: ZooKeeperClient, directory: String, path: String, stat: ZooKeeperStat, lossOnDisconnect: Bool,
         logger: Logger) {
        self.client = client
        self.directory = directory
        self.path = path
        self.name = String(path.split(separator: "/").last ?? "")
        self.stat = stat
        self.lossOnDisconnect = lossOnDisconnect
        self.logger = logger
        signal.setOnLoss { [weak self] in
            guard let self else { return }
            Task { try? await self.withdraw() }
        }
    }

    private func add(_ task: Task<Void, Never>) {
        let cancel = state.withLockedValue { state -> Bool in
            if state.withdrawn { return true }
            state.tasks.append(task)
            return false
        }
        if cancel { task.cancel() }
    }

    func startMonitoring() {
        let client = self.client, signal = self.signal, lossOnDisconnect = self.lossOnDisconnect
        let owner = stat.ephemeralOwner, created = stat, path = self.path, logger = self.logger, state = self.state
        add(Task {
            var states = client.sessionEvents.makeAsyncIterator()
            while let session = await states.next() {
                switch session {
                case .connected:
                    if client.session?.id != owner {
                        signal.fire(.sessionEnded)  // a new session replaced the node's
                        return
                    }
                case .connecting, .connectedReadOnly:
                    if lossOnDisconnect, state.withLockedValue({ $0.holding }) {
                        logger.debug("zookeeper connection dropped; the lock counts as lost", metadata: ["coordination.node": "\(path)"])
                        signal.fire(.sessionUnconfirmed)
                        return
                    }
                case .expired:
                    signal.fire(.sessionEnded)
                    return
                case .authFailed:
                    signal.fire(.storeError("ZooKeeper authentication failed"))
                    return
                case .closed:
                    signal.fire(.clientClosed)
                    return
                }
            }
            if !Task.isCancelled { signal.fire(.clientClosed) }
        })
        add(Task {
            do {
                for try await event in client.watch(path) {
                    guard let stat = event.stat else {
                        signal.fire(.keyDeleted)
                        return
                    }
                    if stat.czxid != created.czxid || stat.mzxid != created.mzxid {
                        signal.fire(.keyRewritten)
                        return
                    }
                }
                if !Task.isCancelled { signal.fire(.clientClosed) }
            } catch {
                guard !Task.isCancelled else { return }
                signal.fire((error as? ZooKeeperError)?.code == .sessionExpired ? .sessionEnded : .storeError(ZooKeeperCoordinationBackend.summary(of: error)))
            }
        })
    }

    /// The node just before ours in the queue (nil: we hold the lock).
    private func predecessor() async throws -> String? {
        let queue = try await ZooKeeperCoordinationBackend.queue(client, directory)
        guard let index = queue.firstIndex(of: name) else {
            signal.fire(.keyDeleted)
            throw CoordinationError.lost(.keyDeleted, "the lock on \(directory)")
        }
        return index == 0 ? nil : directory + "/" + queue[index - 1]
    }

    var token: UInt64 { UInt64(bitPattern: stat.czxid) }

    /// Marks the lock held; a connection that dropped since the queue was read is a loss now.
    private func hold() -> UInt64 {
        state.withLockedValue { $0.holding = true }
        if lossOnDisconnect, client.sessionState != .connected {
            signal.fire(.sessionUnconfirmed)
        }
        return token
    }

    func waitForTurn() async throws -> UInt64 {
        while true {
            try Task.checkCancellation()
            let previous: String?
            do {
                previous = try await predecessor()
            } catch let error as ZooKeeperError where error.isRetryable {
                // A short drop while waiting: the node survives it (a session expiry fires the signal).
                try await Task.sleep(for: .milliseconds(200))
                continue
            }
            guard let previous else { return hold() }
            logger.debug("zookeeper lock waits for its predecessor", metadata: ["coordination.node": "\(path)", "coordination.predecessor": "\(previous)"])
            // The first event is the predecessor's state when the watch is armed: gone already, or not.
            for try await event in client.watch(previous) where event.stat == nil {
                break
            }
        }
    }

    func tryTurn() async throws -> UInt64? {
        try await predecessor() == nil ? hold() : nil
    }

    func withdraw() async throws {
        let tasks = state.withLockedValue { state -> [Task<Void, Never>]? in
            if state.withdrawn { return nil }
            state.withdrawn = true
            return state.tasks
        }
        guard let tasks else { return }
        for task in tasks { task.cancel() }
        let client = self.client, path = self.path, owner = stat.ephemeralOwner, created = stat.czxid
        try await Task {
            // Retried through connection losses (up to 60 s) while the session can still hold the node.
            for attempt in 1...240 {
                do {
                    // Only our node: a presence path is reused by the next registration of the name.
                    guard let current = try await client.exists(path), current.czxid == created else { return }
                    try await client.delete(path, version: current.version)
                    return
                } catch let error as ZooKeeperError {
                    switch error.code {
                    case .noNode, .badVersion, .closed, .closing, .sessionExpired: return  // gone, or the server deletes it
                    default:
                        guard error.isRetryable, client.session?.id == owner, attempt < 240 else { throw error }
                        try await Task.sleep(for: .milliseconds(250))
                    }
                }
            }
        }.value
    }
}
