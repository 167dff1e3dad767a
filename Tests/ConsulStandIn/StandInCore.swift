// Part of the Consul STAND-IN (not Consul): the modelled state and endpoints.
// Each behaviour follows the section of Consul's HTTP API documentation named beside it.
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// The stand-in's state and request handling. Everything happens under `lock`;
/// promises are completed outside it.
///
/// `@unchecked Sendable`: all mutable state is in `state`, only touched with `lock` held.
final class StandInCore: @unchecked Sendable {
    struct Entry {
        var key: String
        var value: [UInt8]
        var createIndex: UInt64
        var modifyIndex: UInt64
        var lockIndex: UInt64
        var flags: UInt64
        var session: String?
    }

    struct Session {
        var id: String
        var name: String
        var node: String
        var lockDelay: Duration
        var behavior: String
        var ttl: String
        var ttlDuration: Duration?
        var deadline: ContinuousClock.Instant?
        var nodeChecks: [String]
        var serviceChecks: [[String: Any]]?
        var createIndex: UInt64
        var modifyIndex: UInt64
    }

    struct Check {
        var id: String
        var name: String
        var serviceID: String
        var serviceName: String
        var status: String
        var output: String
        var notes: String
        var ttl: Duration?
        var deadline: ContinuousClock.Instant?
        var kind: String  // ttl, http, tcp
    }

    struct Service {
        var id: String
        var name: String
        var tags: [String]
        var address: String
        var port: Int
        var meta: [String: String]
        var checkIDs: [String]
    }

    struct Waiter {
        var waitIndex: UInt64
        var compute: (State) -> StandInResponse
        var promise: EventLoopPromise<StandInResponse>
        var timeout: Scheduled<Void>?
    }

    struct State {
        var index: UInt64 = 10
        var kv: [String: Entry] = [:]
        var tombstones: [String: UInt64] = [:]
        var kvTableIndex: UInt64 = 0
        var lockDelays: [String: ContinuousClock.Instant] = [:]
        var sessions: [String: Session] = [:]
        var sessionsTableIndex: UInt64 = 0
        var services: [String: Service] = [:]
        var checks: [String: Check] = [:]
        var healthIndex: UInt64 = 0
        var waiters: [Int: Waiter] = [:]
        var nextWaiterID = 0
        var shutDown = false
        var noLeader = false
        var recorded: [ConsulStandIn.RecordedRequest] = []
        var connections: [ObjectIdentifier: any Channel] = [:]
    }

    let options: ConsulStandIn.Options
    private let lock = NIOLock()
    private var state = State()
    static let node = "consul-stand-in"

    init(options: ConsulStandIn.Options) { self.options = options }

    var currentIndex: UInt64 { lock.withLock { state.index } }
    var recordedRequests: [ConsulStandIn.RecordedRequest] { lock.withLock { state.recorded } }

    // MARK: Dispatch

    enum Outcome {
        case respond(StandInResponse)
        /// A blocking read ("Blocking Queries"): answer when the computed index passes `index`.
        case block(index: UInt64, wait: Duration, compute: (State) -> StandInResponse)
    }

    func handle(_ request: StandInRequest, eventLoop: any EventLoop, promise: EventLoopPromise<StandInResponse>) {
        var ready: [(EventLoopPromise<StandInResponse>, StandInResponse)] = []
        lock.lock()
        state.recorded.append(
            .init(method: request.method, uri: request.uri, headers: request.headers.map { (name: $0.0, value: $0.1) }, body: request.body))
        if state.recorded.count > 1000 { state.recorded.removeFirst(state.recorded.count - 1000) }
        let before = state.index
        let outcome = route(request)
        switch outcome {
        case .respond(let response):
            ready.append((promise, response))
        case .block(let waitIndex, let wait, let compute):
            let now = compute(state)
            if (now.index ?? 0) > waitIndex || state.shutDown {
                ready.append((promise, now))
            } else {
                let id = state.nextWaiterID
                state.nextWaiterID += 1
                // Consul adds up to wait/16 of random jitter to spread wake-ups.
                let jitter = wait / 16 * Double.random(in: 0...1)
                let timeout = eventLoop.scheduleTask(in: (wait + jitter).timeAmount) { [weak self] () -> Void in
                    self?.expireWaiter(id)
                }
                state.waiters[id] = Waiter(waitIndex: waitIndex, compute: compute, promise: promise, timeout: timeout)
            }
        }
        if state.index != before { ready += collectWoken() }
        lock.unlock()
        for (promise, response) in ready { promise.succeed(response) }
    }

    private func expireWaiter(_ id: Int) {
        lock.lock()
        let waiter = state.waiters.removeValue(forKey: id)
        let response = waiter.map { $0.compute(state) }
        lock.unlock()
        if let waiter, let response { waiter.promise.succeed(response) }
    }

    /// Waiters whose query now has a higher index. Call with `lock` held.
    private func collectWoken() -> [(EventLoopPromise<StandInResponse>, StandInResponse)] {
        var woken: [(EventLoopPromise<StandInResponse>, StandInResponse)] = []
        for (id, waiter) in state.waiters {
            let response = waiter.compute(state)
            if (response.index ?? 0) > waiter.waitIndex {
                waiter.timeout?.cancel()
                state.waiters[id] = nil
                woken.append((waiter.promise, response))
            }
        }
        return woken
    }

    func shutdown() {
        lock.lock()
        state.shutDown = true
        let waiters = state.waiters.values.map { ($0.promise, $0.compute(state), $0.timeout) }
        state.waiters = [:]
        lock.unlock()
        for (promise, response, timeout) in waiters {
            timeout?.cancel()
            promise.succeed(response)
        }
    }

    func resetIndex(to index: UInt64) {
        lock.lock()
        state.index = index
        for key in state.kv.keys {
            state.kv[key]!.modifyIndex = min(state.kv[key]!.modifyIndex, index)
            state.kv[key]!.createIndex = min(state.kv[key]!.createIndex, index)
        }
        for key in state.tombstones.keys { state.tombstones[key] = min(state.tombstones[key]!, index) }
        state.kvTableIndex = min(state.kvTableIndex, index)
        state.sessionsTableIndex = min(state.sessionsTableIndex, index)
        state.healthIndex = min(state.healthIndex, index)
        lock.unlock()
    }

    /// Session TTL expiry ("Sessions": TTL) and TTL check expiry ("Checks": TTL).
    func sweep() {
        lock.lock()
        let before = state.index
        let now = ContinuousClock.now
        for session in state.sessions.values where session.deadline.map({ $0 <= now }) ?? false {
            invalidateSession(session.id)
        }
        for (id, check) in state.checks where check.deadline.map({ $0 <= now }) ?? false {
            state.checks[id]!.deadline = nil
            if check.status != "critical" || check.output != "TTL expired" {
                state.checks[id]!.status = "critical"
                state.checks[id]!.output = "TTL expired"
                state.healthIndex = nextIndex()
            }
        }
        let ready = state.index != before ? collectWoken() : []
        lock.unlock()
        for (promise, response) in ready { promise.succeed(response) }
    }

    private func nextIndex() -> UInt64 {
        state.index += 1
        return state.index
    }

    /// Remembers an accepted connection until it closes, so `shutdown()` can close it.
    func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        lock.withLock { state.connections[id] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            guard let self else { return }
            self.lock.withLock { _ = self.state.connections.removeValue(forKey: id) }
        }
    }

    func trackedConnections() -> [any Channel] { lock.withLock { Array(state.connections.values) } }

    func setNoLeader(_ noLeader: Bool) { lock.withLock { state.noLeader = noLeader } }
    var hasLeader: Bool { lock.withLock { !state.noLeader } }

    private func route(_ request: StandInRequest) -> Outcome {
        if let denied = checkACL(request) { return .respond(denied) }
        // "Consistency Modes"/outages: without a leader, servers answer 500 "No cluster leader"
        // (stale reads would still be answered by a real Consul; the stand-in has one server).
        if state.noLeader, !request.flag("stale") {
            return .respond(.text("No cluster leader", status: 500))
        }
        let path = request.path
        let method = request.method
        if path.hasPrefix("/v1/kv/") || path == "/v1/kv" {
            let key = path.count > 7 ? String(path.dropFirst(7)) : ""
            switch method {
            case "GET": return kvGet(key, request)
            case "PUT", "POST": return .respond(kvPut(key, request))
            case "DELETE": return .respond(kvDelete(key, request))
            default: return .respond(.text("method not allowed", status: 405))
            }
        }
        if path == "/v1/txn", method == "PUT" || method == "POST" { return .respond(txn(request)) }
        if path.hasPrefix("/v1/session/") { return session(path: String(path.dropFirst(12)), request) }
        if path.hasPrefix("/v1/agent/") { return .respond(agent(path: String(path.dropFirst(10)), request)) }
        if path.hasPrefix("/v1/health/service/"), method == "GET" {
            return healthService(String(path.dropFirst(19)), request)
        }
        if path == "/v1/status/leader" { return .respond(.json("\"127.0.0.1:8300\"")) }
        return .respond(.text("Invalid URL path: not a recognized HTTP API endpoint", status: 404))
    }

    /// "ACL Tokens": the token comes in `X-Consul-Token`, `Authorization: Bearer`, or `?token=`.
    private func checkACL(_ request: StandInRequest) -> StandInResponse? {
        guard let required = options.aclToken, request.path != "/v1/status/leader" else { return nil }
        var token = request.header("X-Consul-Token") ?? request.query["token"]
        if token == nil, let auth = request.header("Authorization"), auth.hasPrefix("Bearer ") {
            token = String(auth.dropFirst(7))
        }
        guard let token, !token.isEmpty else { return .text("Permission denied", status: 403) }
        guard token == required else { return .text("ACL not found", status: 403) }
        return nil
    }

    private func blockingParameters(_ request: StandInRequest) -> (UInt64, Duration)? {
        guard let text = request.query["index"], let index = UInt64(text) else { return nil }
        // "Blocking Queries": wait defaults to 5 minutes and is capped at 10 minutes.
        var wait = request.query["wait"].flatMap(Self.parseGoDuration) ?? .seconds(300)
        if wait > .seconds(600) { wait = .seconds(600) }
        return (index, wait)
    }

    private func read(_ request: StandInRequest, _ compute: @escaping (State) -> StandInResponse) -> Outcome {
        if let (index, wait) = blockingParameters(request) {
            return .block(index: index, wait: wait, compute: compute)
        }
        return .respond(compute(state))
    }

    // MARK: KV ("KV Store Endpoints")

    private func kvGet(_ key: String, _ request: StandInRequest) -> Outcome {
        if request.flag("keys") {
            let separator = request.query["separator"].flatMap { $0.isEmpty ? nil : $0 }
            return read(request) { state in
                var keys = Set<String>()
                for k in state.kv.keys where k.hasPrefix(key) {
                    if let separator, let range = k.dropFirst(key.count).range(of: separator) {
                        keys.insert(String(k[..<range.upperBound]))
                    } else {
                        keys.insert(k)
                    }
                }
                let index = Self.prefixIndex(state, key)
                if keys.isEmpty { return .text("", status: 404, index: index) }
                return .json(Self.encode(keys.sorted()), index: index)
            }
        }
        if request.flag("recurse") {
            return read(request) { state in
                let entries = state.kv.values.filter { $0.key.hasPrefix(key) }.sorted { $0.key < $1.key }
                let index = Self.prefixIndex(state, key)
                if entries.isEmpty { return .text("", status: 404, index: index) }
                return .json(Self.encode(entries.map { Self.json($0) }), index: index)
            }
        }
        let raw = request.flag("raw")
        return read(request) { state in
            guard let entry = state.kv[key] else {
                // A missing key answers with the KV table's index (never 0).
                return .text("", status: 404, index: max(state.kvTableIndex, 1))
            }
            if raw {
                return StandInResponse(
                    status: 200, body: entry.value, index: entry.modifyIndex, contentType: "application/octet-stream")
            }
            return .json(Self.encode([Self.json(entry)]), index: entry.modifyIndex)
        }
    }

    private static func prefixIndex(_ state: State, _ prefix: String) -> UInt64 {
        var index: UInt64 = 0
        for entry in state.kv.values where entry.key.hasPrefix(prefix) { index = max(index, entry.modifyIndex) }
        for (key, deleted) in state.tombstones where key.hasPrefix(prefix) { index = max(index, deleted) }
        if index == 0 { index = state.kvTableIndex }
        return max(index, 1)
    }

    private func kvPut(_ key: String, _ request: StandInRequest) -> StandInResponse {
        guard !key.isEmpty else { return .text("Missing key name", status: 400) }
        guard request.body.count <= options.maximumValueSize else {
            return .text(
                "Request body(\(request.body.count) bytes) too large, max size: \(options.maximumValueSize) bytes. "
                    + "See https://developer.hashicorp.com/consul/docs/agent/config/config-files#kv_max_value_size.",
                status: 413)
        }
        let flags = request.query["flags"].flatMap(UInt64.init) ?? 0
        let cas = request.query["cas"].flatMap(UInt64.init)
        let acquire = request.query["acquire"]
        let release = request.query["release"]
        if acquire != nil && release != nil {
            return .text("Conflicting flags: acquire=\(acquire!)&release=\(release!)", status: 400)
        }
        let existing = state.kv[key]
        if let cas {
            if cas == 0 && existing != nil { return .json("false") }
            if cas != 0 && existing?.modifyIndex != cas { return .json("false") }
        }
        if let session = acquire ?? release, state.sessions[session] == nil {
            return .text("invalid session \"\(session)\"", status: 500)
        }
        if let acquire {
            if let holder = existing?.session, holder != acquire { return .json("false") }
            if existing?.session == nil, let until = state.lockDelays[key], until > .now { return .json("false") }
        }
        if let release, existing?.session != release { return .json("false") }

        let index = nextIndex()
        var entry =
            existing ?? Entry(key: key, value: [], createIndex: index, modifyIndex: index, lockIndex: 0, flags: 0)
        entry.value = request.body
        entry.flags = flags
        entry.modifyIndex = index
        if let acquire, entry.session != acquire {
            entry.session = acquire
            entry.lockIndex += 1
        }
        if release != nil { entry.session = nil }
        state.kv[key] = entry
        state.kvTableIndex = index
        return .json("true", index: index)
    }

    private func kvDelete(_ key: String, _ request: StandInRequest) -> StandInResponse {
        if request.flag("recurse") {
            let keys = state.kv.keys.filter { $0.hasPrefix(key) }
            let index = nextIndex()
            for k in keys {
                state.kv[k] = nil
                state.tombstones[k] = index
            }
            if !keys.isEmpty { state.kvTableIndex = index }
            return .json("true", index: index)
        }
        guard !key.isEmpty else { return .text("Missing key name", status: 400) }
        let existing = state.kv[key]
        if let cas = request.query["cas"].flatMap(UInt64.init) {
            guard let existing else { return .json("true") }
            if existing.modifyIndex != cas { return .json("false") }
        }
        let index = nextIndex()
        if existing != nil {
            state.kv[key] = nil
            state.tombstones[key] = index
            state.kvTableIndex = index
        }
        return .json("true", index: index)
    }

    // MARK: Transactions ("Transaction", KV operations)

    private func txn(_ request: StandInRequest) -> StandInResponse {
        guard let operations = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [[String: Any]] else {
            return .text("Failed to parse body: expected a JSON array of operations", status: 400)
        }
        guard operations.count <= 64 else {
            return .text("Transaction contains too many operations (\(operations.count) > 64)", status: 413)
        }
        var kv = state.kv
        var tombstones: [String] = []
        var results: [Any] = []
        var errors: [[String: Any]] = []
        let index = state.index + 1
        for (opIndex, operation) in operations.enumerated() {
            guard let op = operation["KV"] as? [String: Any], let verb = op["Verb"] as? String,
                let key = op["Key"] as? String
            else {
                errors.append(["OpIndex": opIndex, "What": "unsupported operation (the stand-in models KV only)"])
                continue
            }
            let value = (op["Value"] as? String).flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } ?? []
            guard value.count <= options.maximumValueSize else {
                return .text("Value for key \"\(key)\" too large", status: 413)
            }
            let flags = (op["Flags"] as? NSNumber)?.uint64Value ?? 0
            let opIdx = (op["Index"] as? NSNumber)?.uint64Value ?? 0
            let session = op["Session"] as? String
            let existing = kv[key]
            func fail(_ what: String) { errors.append(["OpIndex": opIndex, "What": what]) }
            func write(_ session: String?, lockBump: Bool) {
                var entry =
                    existing ?? Entry(key: key, value: [], createIndex: index, modifyIndex: index, lockIndex: 0, flags: 0)
                entry.value = value
                entry.flags = flags
                entry.modifyIndex = index
                if lockBump {
                    entry.lockIndex += 1
                }
                entry.session = session
                kv[key] = entry
                var shown = Self.json(entry)
                shown["Value"] = NSNull()
                results.append(["KV": shown])
            }
            switch verb {
            case "set": write(existing?.session, lockBump: false)
            case "cas":
                if (opIdx == 0 && existing != nil) || (opIdx != 0 && existing?.modifyIndex != opIdx) {
                    fail("failed to set key \"\(key)\", index is stale")
                } else {
                    write(existing?.session, lockBump: false)
                }
            case "lock":
                guard let session, state.sessions[session] != nil else {
                    fail("failed to lock key \"\(key)\": invalid session \"\(session ?? "")\"")
                    break
                }
                if let holder = existing?.session, holder != session {
                    fail("failed to lock key \"\(key)\", lock is already held")
                } else {
                    write(session, lockBump: existing?.session != session)
                }
            case "unlock":
                if session == nil || existing?.session != session {
                    fail("failed to unlock key \"\(key)\", lock isn't held, or is held by another session")
                } else {
                    write(nil, lockBump: false)
                }
            case "get":
                if let existing { results.append(["KV": Self.json(existing)]) } else { fail("key \"\(key)\" doesn't exist") }
            case "get-tree":
                for entry in kv.values.filter({ $0.key.hasPrefix(key) }).sorted(by: { $0.key < $1.key }) {
                    results.append(["KV": Self.json(entry)])
                }
            case "check-index":
                if let existing {
                    if existing.modifyIndex != opIdx {
                        fail("current modify index \(existing.modifyIndex) != \(opIdx)")
                    }
                } else {
                    fail("key \"\(key)\" doesn't exist")
                }
            case "check-session":
                if existing?.session != session {
                    fail("current session \"\(existing?.session ?? "")\" != \"\(session ?? "")\"")
                }
            case "check-not-exists":
                if existing != nil { fail("key \"\(key)\" exists") }
            case "delete":
                kv[key] = nil
                tombstones.append(key)
            case "delete-tree":
                for k in kv.keys where k.hasPrefix(key) {
                    kv[k] = nil
                    tombstones.append(k)
                }
            case "delete-cas":
                if existing == nil || existing?.modifyIndex != opIdx {
                    fail("failed to delete key \"\(key)\", index is stale")
                } else {
                    kv[key] = nil
                    tombstones.append(key)
                }
            default:
                fail("unknown KV verb \"\(verb)\"")
            }
        }
        if !errors.isEmpty {
            return .json(Self.encode(["Results": NSNull(), "Errors": errors]), status: 409)
        }
        let wrote = kv.count != state.kv.count || !tombstones.isEmpty
            || kv.contains { $0.value.modifyIndex == index }
        if wrote {
            _ = nextIndex()
            state.kv = kv
            for key in tombstones { state.tombstones[key] = index }
            state.kvTableIndex = index
        }
        return .json(Self.encode(["Results": results, "Errors": NSNull()]), index: state.index)
    }

    // MARK: Sessions ("Session HTTP Endpoint")

    private func session(path: String, _ request: StandInRequest) -> Outcome {
        let parts = path.split(separator: "/", maxSplits: 1).map(String.init)
        let action = parts.first ?? ""
        let id = parts.count > 1 ? parts[1] : ""
        switch (request.method, action) {
        case ("PUT", "create"): return .respond(createSession(request))
        case ("PUT", "destroy"):
            if state.sessions[id] != nil { invalidateSession(id) }
            return .respond(.json("true"))
        case ("PUT", "renew"):
            guard var session = state.sessions[id] else {
                return .respond(.text("Session id '\(id)' not found", status: 404))
            }
            if let ttl = session.ttlDuration {
                session.deadline = .now + ttl * options.sessionTTLMultiplier
                state.sessions[id] = session
            }
            return .respond(.json(Self.encode([Self.json(session)]), index: state.sessionsTableIndex))
        case ("GET", "info"):
            return read(request) { state in
                let found = state.sessions[id].map { [Self.json($0)] } ?? []
                return .json(Self.encode(found), index: max(state.sessionsTableIndex, 1))
            }
        case ("GET", "list"):
            return read(request) { state in
                let all = state.sessions.values.sorted { $0.createIndex < $1.createIndex }.map { Self.json($0) }
                return .json(Self.encode(all), index: max(state.sessionsTableIndex, 1))
            }
        case ("GET", "node"):
            return read(request) { state in
                let all = state.sessions.values.filter { $0.node == id }.sorted { $0.createIndex < $1.createIndex }
                return .json(Self.encode(all.map { Self.json($0) }), index: max(state.sessionsTableIndex, 1))
            }
        default:
            return .respond(.text("Invalid URL path: not a recognized HTTP API endpoint", status: 404))
        }
    }

    private func createSession(_ request: StandInRequest) -> StandInResponse {
        var body: [String: Any] = [:]
        if !request.body.isEmpty {
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
                return .text("Request decode failed: invalid JSON", status: 400)
            }
            body = parsed
        }
        let behavior = (body["Behavior"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "release"
        guard behavior == "release" || behavior == "delete" else {
            return .text("Invalid Behavior setting '\(behavior)'", status: 500)
        }
        let ttl = body["TTL"] as? String ?? ""
        var ttlDuration: Duration?
        if !ttl.isEmpty {
            guard let parsed = Self.parseGoDuration(ttl), parsed >= options.minimumSessionTTL,
                parsed <= .seconds(86400)
            else {
                return .text(
                    "Invalid Session TTL '\(ttl)', must be between [\(options.minimumSessionTTL)=24h0m0s]", status: 500)
            }
            ttlDuration = parsed
        }
        var lockDelay = Duration.seconds(15)
        if let text = body["LockDelay"] as? String {
            lockDelay = Self.parseGoDuration(text) ?? lockDelay
        } else if let ns = body["LockDelay"] as? NSNumber {
            lockDelay = .nanoseconds(ns.int64Value)
        }
        let node = (body["Node"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? Self.node
        let index = nextIndex()
        let id = UUID().uuidString.lowercased()
        state.sessions[id] = Session(
            id: id, name: body["Name"] as? String ?? "", node: node, lockDelay: lockDelay, behavior: behavior,
            ttl: ttl, ttlDuration: ttlDuration,
            deadline: ttlDuration.map { .now + $0 * options.sessionTTLMultiplier },
            nodeChecks: body["NodeChecks"] as? [String] ?? (body["Checks"] as? [String] ?? ["serfHealth"]),
            serviceChecks: body["ServiceChecks"] as? [[String: Any]], createIndex: index, modifyIndex: index)
        state.sessionsTableIndex = index
        return .json(Self.encode(["ID": id]), index: index)
    }

    /// Invalidation: the session's locks are released (behavior "release", with the lock-delay)
    /// or its keys deleted (behavior "delete").
    private func invalidateSession(_ id: String) {
        guard let session = state.sessions.removeValue(forKey: id) else { return }
        let index = nextIndex()
        state.sessionsTableIndex = index
        var touched = false
        for (key, entry) in state.kv where entry.session == id {
            touched = true
            if session.behavior == "delete" {
                state.kv[key] = nil
                state.tombstones[key] = index
            } else {
                state.kv[key]!.session = nil
                state.kv[key]!.modifyIndex = index
            }
            if session.lockDelay > .zero { state.lockDelays[key] = .now + session.lockDelay }
        }
        if touched { state.kvTableIndex = index }
    }

    // MARK: Agent ("Agent HTTP API": Services, Checks) and Health ("Health HTTP Endpoint")

    private func agent(path: String, _ request: StandInRequest) -> StandInResponse {
        let parts = path.split(separator: "/").map(String.init)
        switch (request.method, parts.first ?? "", parts.count > 1 ? parts[1] : "") {
        case ("PUT", "service", "register"): return registerService(request)
        case ("PUT", "service", "deregister"):
            let id = parts.count > 2 ? parts[2] : ""
            guard let service = state.services.removeValue(forKey: id) else {
                return .text("Unknown service ID \"\(id)\". Ensure that the service ID is passed, not the service name.", status: 404)
            }
            for check in service.checkIDs { state.checks[check] = nil }
            state.healthIndex = nextIndex()
            return .text("", status: 200)
        case ("PUT", "check", let action) where ["pass", "warn", "fail", "update"].contains(action):
            let id = parts.count > 2 ? parts[2...].joined(separator: "/") : ""
            var status: String
            var output = request.query["note"] ?? ""
            switch action {
            case "pass": status = "passing"
            case "warn": status = "warning"
            case "fail": status = "critical"
            default:
                let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
                status = body["Status"] as? String ?? ""
                output = body["Output"] as? String ?? ""
                guard ["passing", "warning", "critical"].contains(status) else {
                    return .text("Invalid check status: \"\(status)\"", status: 400)
                }
            }
            guard var check = state.checks[id] else {
                return .text("Unknown check ID \"\(id)\". Ensure that the check ID is passed, not the check name.", status: 404)
            }
            guard let ttl = check.ttl else {
                return .text("CheckID \"\(id)\" does not have associated TTL", status: 500)
            }
            check.deadline = .now + ttl
            let changed = check.status != status || check.output != output
            check.status = status
            check.output = output
            state.checks[id] = check
            if changed { state.healthIndex = nextIndex() }
            return .text("", status: 200)
        case ("GET", "services", _):
            var all: [String: Any] = [:]
            for service in state.services.values { all[service.id] = Self.json(service) }
            return .json(Self.encode(all))
        case ("GET", "checks", _):
            var all: [String: Any] = [:]
            for check in state.checks.values { all[check.id] = Self.json(check) }
            return .json(Self.encode(all))
        default:
            return .text("Invalid URL path: not a recognized HTTP API endpoint", status: 404)
        }
    }

    private func registerService(_ request: StandInRequest) -> StandInResponse {
        guard let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            return .text("Request decode failed: invalid JSON", status: 400)
        }
        guard let name = body["Name"] as? String, !name.isEmpty else {
            return .text("Missing service name", status: 400)
        }
        let id = (body["ID"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? name
        var definitions: [[String: Any]] = []
        if let check = body["Check"] as? [String: Any] { definitions.append(check) }
        if let checks = body["Checks"] as? [[String: Any]] { definitions += checks }
        var newChecks: [Check] = []
        for (n, definition) in definitions.enumerated() {
            let ttl = (definition["TTL"] as? String).flatMap { $0.isEmpty ? nil : Self.parseGoDuration($0) }
            let kind: String
            if ttl != nil {
                kind = "ttl"
            } else if (definition["HTTP"] as? String)?.isEmpty == false, definition["Interval"] is String {
                kind = "http"
            } else if (definition["TCP"] as? String)?.isEmpty == false, definition["Interval"] is String {
                kind = "tcp"
            } else {
                return .text(
                    "Invalid check: TTL must be > 0 for TTL checks; HTTP and TCP checks need an Interval", status: 400)
            }
            let checkID =
                (definition["CheckID"] as? String).flatMap { $0.isEmpty ? nil : $0 }
                ?? (definitions.count == 1 ? "service:\(id)" : "service:\(id):\(n + 1)")
            newChecks.append(
                Check(
                    id: checkID, name: definition["Name"] as? String ?? "Service '\(name)' check", serviceID: id,
                    serviceName: name, status: definition["Status"] as? String ?? "critical", output: "",
                    notes: definition["Notes"] as? String ?? "", ttl: ttl, deadline: ttl.map { .now + $0 }, kind: kind))
        }
        if let old = state.services[id] { for check in old.checkIDs { state.checks[check] = nil } }
        state.services[id] = Service(
            id: id, name: name, tags: body["Tags"] as? [String] ?? [], address: body["Address"] as? String ?? "",
            port: (body["Port"] as? NSNumber)?.intValue ?? 0, meta: body["Meta"] as? [String: String] ?? [:],
            checkIDs: newChecks.map(\.id))
        for check in newChecks { state.checks[check.id] = check }
        state.healthIndex = nextIndex()
        return .text("", status: 200)
    }

    private func healthService(_ name: String, _ request: StandInRequest) -> Outcome {
        let passingOnly = request.flag("passing")
        let tag = request.query["tag"]
        return read(request) { state in
            var entries: [Any] = []
            for service in state.services.values.sorted(by: { $0.id < $1.id }) where service.name == name {
                if let tag, !service.tags.contains(tag) { continue }
                let checks = service.checkIDs.compactMap { state.checks[$0] }
                if passingOnly && !checks.allSatisfy({ $0.status == "passing" }) { continue }
                let serf: [String: Any] = [
                    "Node": Self.node, "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing",
                    "Notes": "", "Output": "Agent alive and reachable", "ServiceID": "", "ServiceName": "",
                ]
                entries.append([
                    "Node": [
                        "ID": "00000000-0000-0000-0000-000000000001", "Node": Self.node, "Address": "127.0.0.1",
                        "Datacenter": "dc1",
                    ] as [String: Any],
                    "Service": Self.json(service),
                    "Checks": [serf] + checks.map { Self.json($0) },
                ] as [String: Any])
            }
            return .json(Self.encode(entries), index: max(state.healthIndex, 1))
        }
    }

    // MARK: JSON

    static func json(_ entry: Entry) -> [String: Any] {
        var object: [String: Any] = [
            "Key": entry.key, "CreateIndex": entry.createIndex, "ModifyIndex": entry.modifyIndex,
            "LockIndex": entry.lockIndex, "Flags": entry.flags,
            "Value": entry.value.isEmpty ? NSNull() : Data(entry.value).base64EncodedString() as Any,
        ]
        if let session = entry.session { object["Session"] = session }
        return object
    }

    static func json(_ session: Session) -> [String: Any] {
        [
            "ID": session.id, "Name": session.name, "Node": session.node,
            "LockDelay": session.lockDelay.components.seconds * 1_000_000_000
                + session.lockDelay.components.attoseconds / 1_000_000_000,
            "Behavior": session.behavior, "TTL": session.ttl, "NodeChecks": session.nodeChecks,
            "ServiceChecks": session.serviceChecks as Any? ?? NSNull(), "CreateIndex": session.createIndex,
            "ModifyIndex": session.modifyIndex,
        ]
    }

    static func json(_ service: Service) -> [String: Any] {
        [
            "ID": service.id, "Service": service.name, "Tags": service.tags, "Address": service.address,
            "Port": service.port, "Meta": service.meta,
        ]
    }

    static func json(_ check: Check) -> [String: Any] {
        [
            "Node": node, "CheckID": check.id, "Name": check.name, "Status": check.status, "Notes": check.notes,
            "Output": check.output, "ServiceID": check.serviceID, "ServiceName": check.serviceName,
            "Type": check.kind,
        ]
    }

    static func encode(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed]) else {
            return "null"
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Go's duration syntax, as Consul parses `wait`, `TTL`, `LockDelay`.
    static func parseGoDuration(_ text: String) -> Duration? {
        var rest = Substring(text)
        if rest == "0" { return .zero }
        guard !rest.isEmpty else { return nil }
        var total: Double = 0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter || $0 == "µ" }
            rest = rest.dropFirst(unit.count)
            switch unit {
            case "h": total += value * 3600e9
            case "m": total += value * 60e9
            case "s": total += value * 1e9
            case "ms": total += value * 1e6
            case "us", "µs": total += value * 1e3
            case "ns": total += value
            default: return nil
            }
        }
        return .nanoseconds(Int64(total))
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
    }
}
