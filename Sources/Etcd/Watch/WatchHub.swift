import Logging
import NIOConcurrencyHelpers

/// The client's one gRPC Watch stream, multiplexing every watcher (client-assigned watch IDs).
///
/// A driver task owns the stream: it (re)connects, re-creates every watcher from its next
/// revision, and routes responses. State shared with `watch`/termination lives in a lock.
///
/// Back-pressure: the stream is shared, so it is never held back for one slow watcher — holding
/// it would stall every watch of the client behind the slowest. The driver reads it at full speed
/// (nghttp2 returns HTTP/2 credit as messages are read, and each message is handed to its watch at
/// once); each watch's own buffer is bounded by a ``WatchBuffer`` of
/// ``EtcdClient/Configuration/watchBufferLimit`` updates. A watch that has the limit waiting when
/// the next response for it arrives is ended with `.watchFellBehind` (after its buffered updates) and cancelled on the server; the
/// error's ``EtcdError/resumeRevision`` is the first revision it did not deliver.
final class WatchHub: Sendable {
    private struct Watcher {
        var key: [UInt8]
        var rangeEnd: [UInt8]?
        var prevKV: Bool
        var progressNotify: Bool
        /// The revision to (re)start from; 0 = "from now" until the server confirms creation.
        var nextRevision: Int64
        var continuation: AsyncThrowingStream<EtcdWatchUpdate, any Error>.Continuation
        /// What the consumer has not taken yet (shared with the watch's iterator).
        let gauge: WatchBufferGauge
        /// Set when a create was refused for an invalid token and the stream re-authenticates.
        var reauthenticated = false
    }

    private struct State {
        var watchers: [Int64: Watcher] = [:]
        var nextID: Int64 = 1
        var stream: GRPCStream?
        var driver: Task<Void, Never>?
        var closed = false
        /// ``requestProgress()`` was called while the stream was (re)connecting.
        var progressRequested = false
    }

    private let transport: GRPCTransport
    private let state = NIOLockedValueBox(State())

    init(transport: GRPCTransport) {
        self.transport = transport
    }

    func watch(key: [UInt8], rangeEnd: [UInt8]?, fromRevision: Int64?, prevKV: Bool, progressNotify: Bool) -> EtcdWatch {
        let (events, continuation) = AsyncThrowingStream<EtcdWatchUpdate, any Error>.makeStream()
        let gauge = WatchBufferGauge(limit: transport.configuration.watchBufferLimit)
        if key.isEmpty {
            continuation.finish(throwing: EtcdError.invalidArgument("the watched key is empty — etcd keys must have at least one byte"))
            return EtcdWatch(updates: events)
        }
        let id: Int64? = state.withLockedValue { state in
            if state.closed { return nil }
            let id = state.nextID
            state.nextID += 1
            let watcher = Watcher(key: key, rangeEnd: rangeEnd, prevKV: prevKV, progressNotify: progressNotify,
                                  nextRevision: max(0, fromRevision ?? 0), continuation: continuation, gauge: gauge)
            state.watchers[id] = watcher
            if let stream = state.stream {
                stream.send(Self.createRequest(watcher, id: id))
            }
            if state.driver == nil {
                state.driver = Task { await self.run() }
            }
            return id
        }
        guard let id else {
            continuation.finish(throwing: EtcdError.closed())
            return EtcdWatch(updates: events)
        }
        continuation.onTermination = { [weak self] _ in self?.remove(id) }
        return EtcdWatch(updates: events, gauge: gauge)
    }

    private static func createRequest(_ watcher: Watcher, id: Int64) -> [UInt8] {
        Proto.watchCreate(key: watcher.key, rangeEnd: watcher.rangeEnd, startRevision: watcher.nextRevision,
                          prevKV: watcher.prevKV, progressNotify: watcher.progressNotify, watchID: id)
    }

    /// Asks etcd for a progress notification for every watcher on the stream (WatchProgressRequest).
    func requestProgress() {
        state.withLockedValue { state in
            guard !state.closed, !state.watchers.isEmpty else { return }
            if let stream = state.stream {
                stream.send(Proto.watchProgress())
            } else {
                state.progressRequested = true
            }
        }
    }

    /// The consumer ended the sequence: forget the watcher and cancel it on the server.
    private func remove(_ id: Int64) {
        state.withLockedValue { state in
            guard state.watchers.removeValue(forKey: id) != nil else { return }
            state.stream?.send(Proto.watchCancel(watchID: id))
        }
    }

    func close() {
        let (watchers, driver, stream) = state.withLockedValue { state in
            state.closed = true
            defer {
                state.watchers = [:]
                state.driver = nil
                state.stream = nil
            }
            return (state.watchers, state.driver, state.stream)
        }
        driver?.cancel()
        stream?.cancel()
        for watcher in watchers.values {
            watcher.continuation.finish(throwing: EtcdError.closed())
        }
    }

    private var isClosed: Bool { state.withLockedValue { $0.closed } }

    // MARK: Driver

    private func run() async {
        let retry = transport.configuration.retry
        var backoff = retry.initialBackoff
        var reauthentications = 0
        while !isClosed && !Task.isCancelled {
            let connection: GRPCConnection
            do {
                connection = try await transport.connection()
            } catch {
                if isClosed { return }
                transport.logger.debug("watch: cannot connect; retrying", error: error)
                if !(await pause(&backoff)) { return }
                continue
            }
            // "hasleader": a member that loses its leader cancels the stream, so we move on.
            let (stream, messages) = connection.openStream(
                "/etcdserverpb.Watch/Watch",
                metadata: transport.metadata(for: connection, extra: [("hasleader", "true")]))
            let started = state.withLockedValue { state -> Bool in
                if state.closed { return false }
                state.stream = stream
                for (id, watcher) in state.watchers.sorted(by: { $0.key < $1.key }) {
                    stream.send(Self.createRequest(watcher, id: id))
                }
                if state.progressRequested {
                    state.progressRequested = false
                    stream.send(Proto.watchProgress())
                }
                return true
            }
            guard started else {
                stream.cancel()
                return
            }
            do {
                var reauthenticate = false
                for try await message in messages {
                    let response = try Proto.decodeWatchResponse(message, endpoint: connection.endpoint)
                    if handle(response, endpoint: connection.endpoint) {
                        reauthenticate = true
                        break
                    }
                    if response.created && !response.canceled { reauthentications = 0 }
                    backoff = retry.initialBackoff
                }
                if reauthenticate {
                    // The stream's token expired: get a new one and re-create every watcher on a new stream.
                    transport.logger.debug("watch: token refused; re-authenticating", metadata: ["etcd.endpoint": "\(connection.endpoint)"])
                    stream.cancel()
                    try? await transport.authenticate(connection)
                    state.withLockedValue { state in
                        if state.stream === stream { state.stream = nil }
                    }
                    reauthentications += 1
                    if reauthentications > 1, !(await pause(&backoff)) { return }
                    continue
                }
                transport.logger.debug("watch: stream ended by etcd; reconnecting", metadata: ["etcd.endpoint": "\(connection.endpoint)"])
            } catch let error as EtcdError {
                transport.logger.debug("watch: stream failed; resuming", error: error, metadata: ["etcd.endpoint": "\(connection.endpoint)"])
                if error.code == .unauthenticated {
                    try? await transport.authenticate(connection)
                } else if error.isUnavailable || error.code == .protocolError {
                    transport.connectionFailed(connection)
                }
            } catch {
                transport.logger.debug("watch: stream failed; resuming", error: error)
            }
            stream.cancel()
            state.withLockedValue { state in
                if state.stream === stream { state.stream = nil }
            }
            if !(await pause(&backoff)) { return }
        }
    }

    /// Sleeps `backoff` with jitter (then doubles it); false when the hub was closed or the task cancelled.
    private func pause(_ backoff: inout Duration) async -> Bool {
        await transport.resumePause(&backoff) && !isClosed
    }

    /// Routes one response; returns true when the stream must re-authenticate and start over.
    private func handle(_ response: WatchResponseMessage, endpoint: EtcdEndpoint) -> Bool {
        if response.created || response.canceled {
            transport.logger.debug("watch: \(response.created ? "created" : "")\(response.canceled ? " cancelled" : "")", metadata: [
                "etcd.watch-id": "\(response.watchID)", "etcd.revision": "\(response.header.revision)",
                "etcd.reason": "\(response.cancelReason)", "etcd.compact-revision": "\(response.compactRevision)",
            ])
        }
        enum Outcome {
            case none
            case reauthenticate
            /// Events to yield, then (when the consumer fell behind) the error that ends the watch.
            case events(AsyncThrowingStream<EtcdWatchUpdate, any Error>.Continuation, [EtcdWatchEvent], EtcdError?)
            case finish(AsyncThrowingStream<EtcdWatchUpdate, any Error>.Continuation, EtcdError?)
            /// Each watcher gets the notification, or (nil when it fell behind) its error.
            case progress([(AsyncThrowingStream<EtcdWatchUpdate, any Error>.Continuation, EtcdError?)], Int64)
        }
        var pending: [EtcdWatchEvent] = []
        // etcd 3.4 answers a create on a stream whose token expired with watch ID -1.
        if response.watchID == -1 && response.canceled && transport.configuration.credentials != nil
            && response.cancelReason.contains("invalid auth token") {
            return true
        }
        let isProgress = response.events.isEmpty && !response.created && !response.canceled
        let outcome: Outcome = state.withLockedValue { state in
            if response.watchID == -1 && isProgress {
                // The answer to a WatchProgressRequest, for every watcher of the stream. It does
                // not move where a watch resumes: etcd before 3.4.25/3.5.8 could send it ahead of
                // the events of a watcher still catching up (etcd issue 15220).
                var targets: [(AsyncThrowingStream<EtcdWatchUpdate, any Error>.Continuation, EtcdError?)] = []
                for (id, watcher) in state.watchers {
                    switch watcher.gauge.offer(count: 1, revision: watcher.nextRevision) {
                    case .deliver:
                        targets.append((watcher.continuation, nil))
                    case .fellBehind(let resume):
                        targets.append((watcher.continuation, fellBehind(&state, id: id, resumeRevision: resume, endpoint: endpoint)))
                    case .ignore:
                        break
                    }
                }
                return .progress(targets, response.header.revision)
            }
            guard var watcher = state.watchers[response.watchID] else { return .none }
            if response.created && watcher.nextRevision == 0 {
                watcher.nextRevision = response.header.revision + 1
            }
            if !response.events.isEmpty && !response.canceled {
                // Offer the response's events, whole, to the watch's bounded buffer: when the
                // consumer already has the limit waiting, the watch ends at their first revision.
                switch watcher.gauge.offer(count: response.events.count, revision: response.events[0].kv.modRevision) {
                case .deliver:
                    watcher.nextRevision = response.events[response.events.count - 1].kv.modRevision + 1
                    pending = response.events
                case .fellBehind(let resume):
                    state.watchers[response.watchID] = watcher
                    return .events(watcher.continuation, [],
                                   fellBehind(&state, id: response.watchID, resumeRevision: resume, endpoint: endpoint))
                case .ignore:
                    return .none
                }
            } else if let last = response.events.last {
                watcher.nextRevision = last.kv.modRevision + 1
                pending = response.events
            } else if isProgress {
                // A progress notification: every event up to header.revision has been delivered.
                switch watcher.gauge.offer(count: 1, revision: watcher.nextRevision) {
                case .deliver:
                    break
                case .fellBehind(let resume):
                    let error = fellBehind(&state, id: response.watchID, resumeRevision: resume, endpoint: endpoint)
                    return .progress([(watcher.continuation, error)], response.header.revision)
                case .ignore:
                    return .none
                }
                if response.header.revision >= watcher.nextRevision {
                    watcher.nextRevision = response.header.revision + 1
                }
                state.watchers[response.watchID] = watcher
                return .progress([(watcher.continuation, nil)], response.header.revision)
            }
            if response.created && !response.canceled {
                watcher.reauthenticated = false
            }
            if response.canceled && response.compactRevision == 0 && !watcher.reauthenticated
                && transport.configuration.credentials != nil
                && (response.cancelReason.contains("permission denied") || response.cancelReason.contains("invalid auth token")) {
                // Maybe only the token expired: re-authenticate once before giving up.
                watcher.reauthenticated = true
                state.watchers[response.watchID] = watcher
                return .reauthenticate
            }
            if response.canceled {
                state.watchers[response.watchID] = nil
                let error: EtcdError
                if response.compactRevision > 0 {
                    error = EtcdError(code: .compacted,
                                      message: "etcd at \(endpoint) compacted the watched history up to revision \(response.compactRevision) — watch again from revision \(response.compactRevision) or later (after re-reading the current state)",
                                      serverMessage: "mvcc: required revision has been compacted",
                                      endpoint: endpoint.description, compactRevision: response.compactRevision)
                } else {
                    error = EtcdError(code: .watchCanceled,
                                      message: "etcd at \(endpoint) cancelled the watch\(response.cancelReason.isEmpty ? "" : ": \(response.cancelReason)") — check permissions on the key, then watch again",
                                      serverMessage: response.cancelReason.isEmpty ? nil : response.cancelReason,
                                      endpoint: endpoint.description)
                }
                return .finish(watcher.continuation, error)
            }
            state.watchers[response.watchID] = watcher
            return pending.isEmpty ? .none : .events(watcher.continuation, pending, nil)
        }
        switch outcome {
        case .none:
            break
        case .reauthenticate:
            return true
        case .events(let continuation, let events, let error):
            for event in events { continuation.yield(.event(event)) }
            if let error { continuation.finish(throwing: error) }
        case .finish(let continuation, let error):
            for event in pending { continuation.yield(.event(event)) }
            continuation.finish(throwing: error)
        case .progress(let targets, let revision):
            for (continuation, error) in targets {
                if let error {
                    continuation.finish(throwing: error)
                } else {
                    continuation.yield(.progress(revision: revision))
                }
            }
        }
        return false
    }

    /// Inside the state lock: forgets watcher `id` whose consumer fell behind, cancels it on the
    /// server, and returns the error that ends it (after its buffered updates).
    private func fellBehind(_ state: inout State, id: Int64, resumeRevision: Int64, endpoint: EtcdEndpoint) -> EtcdError {
        guard let watcher = state.watchers.removeValue(forKey: id) else {
            return EtcdError.closed()
        }
        state.stream?.send(Proto.watchCancel(watchID: id))
        let buffer = watcher.gauge.snapshot
        let key = String(decoding: watcher.key, as: UTF8.self)
        let what = watcher.rangeEnd == nil ? "key \(key)" : "range from \(key)"
        transport.logger.debug("watch: consumer fell behind; watch ended", metadata: [
            "etcd.watch-id": "\(id)", "etcd.resume-revision": "\(resumeRevision)", "etcd.buffered": "\(buffer.buffered)",
        ])
        var error = EtcdError(code: .watchFellBehind,
                              message: "the consumer of the watch on \(what) fell behind: \(buffer.buffered) updates were waiting, Configuration.watchBufferLimit (\(buffer.limit)) or more — every event before revision \(resumeRevision) was delivered; watch again with fromRevision: \(resumeRevision), and consume faster or raise the limit",
                              endpoint: endpoint.description)
        error.resumeRevision = resumeRevision
        return error
    }
}
