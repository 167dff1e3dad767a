import Logging
import NIOConcurrencyHelpers

/// Keeps leases alive over one shared LeaseKeepAlive stream: a driver task (re)opens the
/// stream, sends each lease's renewal when due (a third of its TTL) and routes responses.
final class LeaseKeeper: Sendable {
    private struct Entry {
        var continuation: AsyncThrowingStream<EtcdLeaseKeepAliveEvent, any Error>.Continuation
        var nextSend: ContinuousClock.Instant
        /// When the lease ends unless renewed; nil until the first renewal tells the TTL.
        var deadline: ContinuousClock.Instant?
        /// Tells this keepAlive's entry from a later keepAlive of the same lease.
        var generation: UInt64
    }

    private struct State {
        var leases: [Int64: Entry] = [:]
        var stream: GRPCStream?
        var driver: Task<Void, Never>?
        var closed = false
        var generation: UInt64 = 0
    }

    private let transport: GRPCTransport
    private let state = NIOLockedValueBox(State())
    /// How often due renewals and local expiry are checked.
    private let tick = Duration.milliseconds(200)

    init(transport: GRPCTransport) {
        self.transport = transport
    }

    func keepAlive(_ id: EtcdLeaseID) -> EtcdLeaseKeepAlive {
        let (events, continuation) = AsyncThrowingStream<EtcdLeaseKeepAliveEvent, any Error>.makeStream()
        let (accepted, replaced, generation) = state.withLockedValue { state -> (Bool, Entry?, UInt64) in
            if state.closed { return (false, nil, 0) }
            let old = state.leases[id.rawValue]
            state.generation += 1
            state.leases[id.rawValue] = Entry(continuation: continuation, nextSend: .now, deadline: old?.deadline,
                                              generation: state.generation)
            if state.driver == nil {
                state.driver = Task { await self.run() }
            }
            return (true, old, state.generation)
        }
        // A second keepAlive of the same lease takes over from the first.
        replaced?.continuation.finish()
        guard accepted else {
            continuation.finish(throwing: EtcdError.closed())
            return EtcdLeaseKeepAlive(events: events)
        }
        continuation.onTermination = { [weak self] _ in self?.remove(id.rawValue, generation: generation) }
        return EtcdLeaseKeepAlive(events: events)
    }

    private func remove(_ id: Int64, generation: UInt64) {
        state.withLockedValue { state in
            // Only when it is still this sequence's entry (not a newer keepAlive of the same lease).
            if state.leases[id]?.generation == generation {
                state.leases[id] = nil
            }
        }
    }

    func close() {
        let (leases, driver, stream) = state.withLockedValue { state in
            state.closed = true
            defer {
                state.leases = [:]
                state.driver = nil
                state.stream = nil
            }
            return (state.leases, state.driver, state.stream)
        }
        driver?.cancel()
        stream?.cancel()
        for entry in leases.values { entry.continuation.finish(throwing: EtcdError.closed()) }
    }

    private var isClosed: Bool { state.withLockedValue { $0.closed } }

    // MARK: Driver

    private func run() async {
        let retry = transport.configuration.retry
        var backoff = retry.initialBackoff
        while !isClosed && !Task.isCancelled {
            expireOverdue()
            let connection: GRPCConnection
            do {
                connection = try await transport.connection()
            } catch {
                if isClosed { return }
                if !(await pause(&backoff)) { return }
                continue
            }
            let (stream, messages) = connection.openStream("/etcdserverpb.Lease/LeaseKeepAlive",
                                                           metadata: transport.metadata(for: connection))
            let started = state.withLockedValue { state -> Bool in
                if state.closed { return false }
                state.stream = stream
                for id in state.leases.keys { state.leases[id]?.nextSend = .now }
                return true
            }
            guard started else {
                stream.cancel()
                return
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        for try await message in messages {
                            let (id, ttl) = try Proto.decodeLeaseKeepAlive(message, endpoint: connection.endpoint)
                            self.renewed(id: id, ttl: ttl)
                        }
                    } catch let error as EtcdError {
                        self.transport.logger.debug("lease keep-alive stream failed", metadata: ["etcd.error": "\(error.message)"])
                        if error.code == .unauthenticated {
                            try? await self.transport.authenticate(connection)
                        } else if error.isUnavailable || error.code == .protocolError {
                            self.transport.connectionFailed(connection)
                        }
                    } catch {}
                }
                group.addTask {
                    while !Task.isCancelled {
                        self.sendDue(on: stream)
                        try? await Task.sleep(for: self.tick)
                    }
                }
                await group.next()
                group.cancelAll()
            }
            stream.cancel()
            state.withLockedValue { state in
                if state.stream === stream { state.stream = nil }
            }
            if !(await pause(&backoff)) { return }
        }
    }

    /// Sleeps `backoff` (then doubles it); false when the keeper was closed or the task cancelled.
    private func pause(_ backoff: inout Duration) async -> Bool {
        await transport.resumePause(&backoff) && !isClosed
    }

    /// Sends the renewals that are due, and reports leases whose TTL passed unrenewed.
    private func sendDue(on stream: GRPCStream) {
        expireOverdue()
        let now = ContinuousClock.now
        state.withLockedValue { state in
            for (id, entry) in state.leases where entry.nextSend <= now {
                stream.send(Proto.leaseKeepAlive(id: id))
                // Until an answer sets the real schedule, ask again after a second.
                state.leases[id]?.nextSend = now + .seconds(1)
            }
        }
    }

    private func expireOverdue() {
        let now = ContinuousClock.now
        let expired = state.withLockedValue { state -> [AsyncThrowingStream<EtcdLeaseKeepAliveEvent, any Error>.Continuation] in
            var expired: [AsyncThrowingStream<EtcdLeaseKeepAliveEvent, any Error>.Continuation] = []
            for (id, entry) in state.leases {
                if let deadline = entry.deadline, deadline <= now {
                    state.leases[id] = nil
                    expired.append(entry.continuation)
                }
            }
            return expired
        }
        for continuation in expired {
            continuation.yield(.expired)
            continuation.finish()
        }
    }

    private func renewed(id: Int64, ttl: Int64) {
        let now = ContinuousClock.now
        let (continuation, gone) = state.withLockedValue { state -> (AsyncThrowingStream<EtcdLeaseKeepAliveEvent, any Error>.Continuation?, Bool) in
            guard let entry = state.leases[id] else { return (nil, false) }
            if ttl <= 0 {
                state.leases[id] = nil
                return (entry.continuation, true)
            }
            let duration = Duration.seconds(ttl)
            state.leases[id]?.deadline = now + duration
            state.leases[id]?.nextSend = now + max(duration / 3, .milliseconds(500))
            return (entry.continuation, false)
        }
        guard let continuation else { return }
        if gone {
            continuation.yield(.expired)
            continuation.finish()
        } else {
            continuation.yield(.renewed(ttl: .seconds(ttl)))
        }
    }
}
