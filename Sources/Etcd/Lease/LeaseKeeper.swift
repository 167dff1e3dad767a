import Logging
import NIOConcurrencyHelpers

/// Keeps leases alive over one shared LeaseKeepAlive stream. The protocol state — deadlines,
/// the renewal schedule, the re-open backoff — is a ``LeaseKeeperStateMachine`` behind the
/// lock; this class feeds it events (keepAlive added or dropped, stream opened or ended,
/// answers, ticks) and carries out the actions it returns outside the lock. A driver runs two
/// loops: the ticker (every `tick`: local expiry, due renewals — independent of the stream, so
/// a stream that hangs or cannot be opened still lets the deadlines pass) and the stream loop
/// ((re)opens the stream after the machine's backoff and routes the answers).
final class LeaseKeeper: Sendable {
    typealias Continuation = AsyncThrowingStream<EtcdLeaseKeepAliveEvent, any Error>.Continuation
    typealias Machine = LeaseKeeperStateMachine<Continuation>

    private struct State {
        var machine: Machine
        var stream: GRPCStream?
        var driver: Task<Void, Never>?
    }

    private let transport: GRPCTransport
    private let state: NIOLockedValueBox<State>
    /// How often due renewals and local expiry are checked.
    static let tick = Duration.milliseconds(200)

    init(transport: GRPCTransport) {
        self.transport = transport
        let retry = transport.configuration.retry
        state = NIOLockedValueBox(State(machine: Machine(initialBackoff: retry.initialBackoff, maxBackoff: retry.maxBackoff)))
    }

    /// Keeps lease `id` alive; `ttl` nil: unknown, looked up first (LeaseTimeToLive).
    func keepAlive(_ id: EtcdLeaseID, ttl: Duration?) -> EtcdLeaseKeepAlive {
        let (events, continuation) = AsyncThrowingStream<EtcdLeaseKeepAliveEvent, any Error>.makeStream()
        let now = ContinuousClock.now
        let (result, stream) = state.withLockedValue { state -> (Machine.AddResult, GRPCStream?) in
            let result = state.machine.add(id.rawValue, subscriber: continuation, ttl: ttl, now: now)
            if case .added = result, state.driver == nil {
                state.driver = Task { await self.run() }
            }
            return (result, state.stream)
        }
        guard case .added(let generation, let needsTTL, let actions) = result else {
            continuation.finish(throwing: EtcdError.closed())
            return EtcdLeaseKeepAlive(events: events)
        }
        perform(actions, on: stream)
        let lookup: Task<Void, Never>? = needsTTL ? Task { await self.lookUpTTL(id.rawValue, generation: generation) } : nil
        continuation.onTermination = { [weak self] _ in
            lookup?.cancel()
            self?.remove(id.rawValue, generation: generation)
        }
        return EtcdLeaseKeepAlive(events: events)
    }

    /// Asks etcd for the TTL of keepAlive `generation` of lease `id` (the normal unary path, with
    /// its retries and deadlines) and tells the machine.
    private func lookUpTTL(_ id: Int64, generation: UInt64) async {
        let askedAt = ContinuousClock.now
        let answer: EtcdLeaseTimeToLive?
        do {
            let (bytes, endpoint) = try await transport.unary("/etcdserverpb.Lease/LeaseTimeToLive",
                                                              request: Proto.leaseTimeToLive(id: id, keys: false),
                                                              idempotent: true)
            answer = try Proto.decodeLeaseTimeToLive(bytes, endpoint: endpoint)
        } catch let error as EtcdError where error.code == .notFound {
            answer = nil
        } catch {
            let subscriber = state.withLockedValue { $0.machine.ttlLookupFailed(id, generation: generation) }
            subscriber?.finish(throwing: error)
            return
        }
        let now = ContinuousClock.now
        let (actions, stream) = state.withLockedValue { state in
            (state.machine.ttlLearned(id, generation: generation, remaining: answer?.remaining,
                                      granted: answer?.grantedTTL ?? .zero, askedAt: askedAt, now: now),
             state.stream)
        }
        perform(actions, on: stream)
    }

    private func remove(_ id: Int64, generation: UInt64) {
        state.withLockedValue { $0.machine.remove(id, generation: generation) }
    }

    func close() {
        let (subscribers, driver, stream) = state.withLockedValue { state in
            defer {
                state.driver = nil
                state.stream = nil
            }
            return (state.machine.close(), state.driver, state.stream)
        }
        driver?.cancel()
        stream?.cancel()
        for subscriber in subscribers { subscriber.finish(throwing: EtcdError.closed()) }
    }

    private var isClosed: Bool { state.withLockedValue { $0.machine.closed } }

    /// Carries out the machine's actions; `stream` is the one that was open when they were made.
    private func perform(_ actions: Machine.Actions, on stream: GRPCStream?) {
        if let stream {
            for id in actions.send { stream.send(Proto.leaseKeepAlive(id: id)) }
        }
        for (subscriber, ttl) in actions.renewed { subscriber.yield(.renewed(ttl: ttl)) }
        for subscriber in actions.expired {
            subscriber.yield(.expired)
            subscriber.finish()
        }
        for subscriber in actions.finished { subscriber.finish() }
    }

    // MARK: Driver

    private func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.tickLoop() }
            group.addTask { await self.streamLoop() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Every tick: local expiry and due renewals, whatever the stream is doing.
    private func tickLoop() async {
        while !Task.isCancelled && !isClosed {
            let now = ContinuousClock.now
            let (actions, stream) = state.withLockedValue { ($0.machine.tick(now: now), $0.stream) }
            perform(actions, on: stream)
            do {
                try await Task.sleep(for: Self.tick)
            } catch {
                return
            }
        }
    }

    /// (Re)opens the stream, after the machine's backoff, and routes its answers.
    private func streamLoop() async {
        // SystemRandomNumberGenerator is stateless: each use makes its own, inside the lock's
        // closure, rather than capturing an async frame's variable inout.
        var delay: Duration?
        while !isClosed && !Task.isCancelled {
            if let delay {
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    return
                }
                if isClosed { return }
            }
            let connection: GRPCConnection
            do {
                connection = try await transport.connection()
            } catch {
                if isClosed { return }
                let now = ContinuousClock.now
                delay = state.withLockedValue { state in
                    var random = SystemRandomNumberGenerator()
                    return state.machine.streamEnded(now: now, using: &random)
                }
                continue
            }
            let (stream, messages) = connection.openStream("/etcdserverpb.Lease/LeaseKeepAlive",
                                                           metadata: transport.metadata(for: connection))
            let openedAt = ContinuousClock.now
            let opened = state.withLockedValue { state -> Machine.Actions? in
                if state.machine.closed { return nil }
                state.stream = stream
                return state.machine.streamOpened(now: openedAt)
            }
            guard let opened else {
                stream.cancel()
                return
            }
            perform(opened, on: stream)
            do {
                for try await message in messages {
                    let (id, ttl) = try Proto.decodeLeaseKeepAlive(message, endpoint: connection.endpoint)
                    let now = ContinuousClock.now
                    let actions = state.withLockedValue { state -> Machine.Actions in
                        state.stream === stream ? state.machine.answered(id, ttl: .seconds(ttl), now: now) : .init()
                    }
                    perform(actions, on: stream)
                }
            } catch let error as EtcdError {
                transport.logger.debug("lease keep-alive stream failed", error: error)
                if error.code == .unauthenticated {
                    try? await transport.authenticate(connection)
                } else if error.isUnavailable || error.code == .protocolError {
                    transport.connectionFailed(connection)
                }
            } catch {}
            stream.cancel()
            let now = ContinuousClock.now
            delay = state.withLockedValue { state -> Duration in
                if state.stream === stream { state.stream = nil }
                var random = SystemRandomNumberGenerator()
                return state.machine.streamEnded(now: now, using: &random)
            }
        }
    }
}
