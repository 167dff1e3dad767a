import CZooKeeper
import Foundation
import Logging
import NIOConcurrencyHelpers


/// The C context of one handle (the `zhandle_t`'s context, and the global watcher's): which
/// connection, which generation of its sessions (the events of a replaced, expired handle are
/// ignored), and the calls sent on the handle that the C client has not completed yet.
///
/// Retained for the C client from `zookeeper_init2` until `zookeeper_close` has returned.
final class HandleContext: Sendable {
    let connection: ZooKeeperConnection
    let generation: Int

    private struct Calls: Sendable {
        /// The boxes retained for the C client's completions (`Unmanaged.passRetained`) and not
        /// yet taken back by them.
        var outstanding: [ObjectIdentifier: any PendingOperation] = [:]
        /// The last session state the C client's completion thread delivered to the global watcher.
        var deliveredState: Int32 = 0
        /// Whether the handle is being closed: only then do completions and session events
        /// signal `changed`, which the closing thread waits on.
        var closing = false
    }
    private let calls = NIOLockedValueBox(Calls())
    private let changed = ChangeSignal()

    init(connection: ZooKeeperConnection, generation: Int) {
        self.connection = connection
        self.generation = generation
    }

    func adopt(_ box: any PendingOperation) {
        calls.withLockedValue { $0.outstanding[ObjectIdentifier(box)] = box }
    }

    func disown(_ box: any PendingOperation) {
        let signal = calls.withLockedValue { c in
            c.outstanding.removeValue(forKey: ObjectIdentifier(box)) != nil && c.closing && c.outstanding.isEmpty
        }
        if signal { changed.signal() }
    }

    func delivered(state: Int32) {
        let signal = calls.withLockedValue { c in
            c.deliveredState = state
            return c.closing
        }
        if signal { changed.signal() }
    }

    var deliveredState: Int32 { calls.withLockedValue { $0.deliveredState } }
    var unanswered: Int { calls.withLockedValue { $0.outstanding.count } }

    func beginClosing() {
        calls.withLockedValue { $0.closing = true }
    }

    /// Blocks the calling thread until a completion emptied the calls or a session event was
    /// delivered (since the last wait), or until `deadline`.
    func waitForChange(until deadline: ContinuousClock.Instant) {
        changed.wait(until: deadline)
    }

    /// Releases the retain of every call the C client will no longer complete (after
    /// `zookeeper_close`); returns how many.
    func releaseOutstanding() -> Int {
        let leftover = calls.withLockedValue { c -> [any PendingOperation] in
            defer { c.outstanding = [:] }
            return Array(c.outstanding.values)
        }
        for box in leftover { Unmanaged.passUnretained(box as AnyObject).release() }
        return leftover.count
    }
}

/// A flag a thread can wait on: set by `signal()`, cleared by the `wait` that saw it.
private final class ChangeSignal: @unchecked Sendable {
    // @unchecked: ConditionLock is a pthread mutex with a condition variable; its value is only
    // read and written with the mutex held.
    private let condition = ConditionLock(value: false)

    func signal() {
        condition.lock()
        condition.unlock(withValue: true)
    }

    func wait(until deadline: ContinuousClock.Instant) {
        let left = deadline - ContinuousClock.now
        let seconds = max(0, Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18)
        if condition.lock(whenValue: true, timeoutSeconds: seconds) {
            condition.unlock(withValue: false)
        }
    }
}

/// Owns one `zhandle_t*`: opens it, and closes it exactly once (`close`, the client's
/// `deinit`, or after a new session replaced it), when the C client has completed the calls
/// sent on it (see ``closeOnThread()``). Its log slot (``ZooKeeperLogBridge``) is held until
/// `zookeeper_close` has returned, so every C log line of the handle reaches its client's logger.
final class ZooKeeperHandle: @unchecked Sendable {
    // @unchecked: `pointer` is only used while `ZooKeeperConnection.handle`'s lock is held, or
    // by the single close thread after it was taken out of that slot.
    let pointer: OpaquePointer
    let context: Unmanaged<HandleContext>
    private let logger: Logger
    private let logToken: ZooKeeperLogBridge.Token

    private init(pointer: OpaquePointer, context: Unmanaged<HandleContext>, logger: Logger, logToken: ZooKeeperLogBridge.Token) {
        self.pointer = pointer
        self.context = context
        self.logger = logger
        self.logToken = logToken
    }

    private var calls: HandleContext { context.takeUnretainedValue() }

    /// Why the C client's last connect attempt failed ("connection refused"), from its log.
    var lastSocketError: String? { ZooKeeperLogBridge.lastSocketError(logToken) }

    /// Creates the C handle of a new session, or of `session` to resume; the credentials are
    /// queued and sent as soon as it is connected (the C client re-sends them after every
    /// reconnect of this session).
    static func open(_ configuration: ZooKeeperClient.Configuration, resuming session: ZooKeeperSession?,
                     context handleContext: HandleContext, authentication: [(scheme: String, credentials: [UInt8])],
                     logger: Logger) throws -> ZooKeeperHandle {
        let registration = ZooKeeperLogBridge.register(logger)
        if !registration.ownSlot {
            logger.notice("more than \(ZooKeeperLogBridge.slotCount) ZooKeeper handles are open: the C library's log lines of this one go to the logger labelled \(ZooKeeperLogBridge.sharedLabel)")
        }
        let context = Unmanaged.passRetained(handleContext)
        var clientID = clientid_t()
        if let session {
            clientID.client_id = session.id
            withUnsafeMutableBytes(of: &clientID.passwd) { buffer in
                buffer.copyBytes(from: session.password.prefix(buffer.count))
            }
        }
        let timeout = Int32(clamping: configuration.sessionTimeout.milliseconds)
        let pointer = withUnsafePointer(to: &clientID) { clientIDPointer in
            zookeeper_init2(configuration.connectString, ZooKeeperCallbacks.globalWatcher, timeout,
                            session == nil ? nil : clientIDPointer, context.toOpaque(),
                            configuration.allowReadOnly ? ZOO_READONLY : 0,
                            registration.callback)
        }
        guard let pointer else {
            let code = errno
            context.release()
            ZooKeeperLogBridge.unregister(registration.token)
            throw ZooKeeperError(code: .systemError,
                                 message: "zookeeper_init failed for \"\(configuration.connectString)\": \(String(cString: strerror(code))) — check the host names")
        }
        _ = zoo_set_servers_resolution_delay(pointer, Int32(clamping: max(configuration.hostResolutionInterval.milliseconds, 0)))
        for (scheme, credentials) in authentication {
            credentials.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { chars in
                    _ = zoo_add_auth(pointer, scheme, chars.baseAddress, Int32(chars.count), nil, nil)
                }
            }
        }
        return ZooKeeperHandle(pointer: pointer, context: context, logger: logger, logToken: registration.token)
    }

    /// A call's box, retained for the C client: adopted before the call is sent (its completion
    /// may run before the call returns), disowned by its completion.
    func adopt(_ box: any PendingOperation) { calls.adopt(box) }
    func disown(_ box: any PendingOperation) { calls.disown(box) }

    /// How long `close()` waits for the calls already sent on a handle to be answered before
    /// it closes the handle (see ``closeOnThread()``).
    static let closeDrainTime: Duration = .seconds(1)

    /// Whether the C client's I/O thread has nothing under way that would queue a session event:
    /// no handshake awaiting the server's answer, and its last state change already delivered.
    /// (An event it queues while `zookeeper_close` runs is lost the same way as a call's
    /// completion.) While (re)connecting to a server that does not answer, nothing is queued.
    private var sessionSettled: Bool {
        let now = zoo_state(pointer)
        if now == czk_associating_state() { return false }
        if now == 0 || now == czk_connecting_state() || now == czk_notconnected_state() { return true }
        return now == calls.deliveredState
    }

    /// How long the C client can keep a call unanswered before it gives up on the connection
    /// and completes the call with a connection loss: two thirds of the negotiated session
    /// timeout without a packet (or a connect attempt's timeout), plus a margin.
    private var connectionGiveUpTime: Duration {
        .milliseconds(max(Int(zoo_recv_timeout(pointer)), 1_000)) + .seconds(2)
    }

    /// `zookeeper_close` blocks (it flushes the close request), so it runs on its own thread,
    /// never on the cooperative pool. After it returns no callback of this handle runs, so its
    /// context and its log slot are released then.
    ///
    /// The 3.8 C client loses the calls still in flight when `zookeeper_close` runs: it queues
    /// their `ZCLOSING` completions while its completion thread is already stopping, and never
    /// runs or frees them (ZOOKEEPER-2894, unfixed upstream) — about 320 bytes of the library's
    /// memory per call. So the handle is closed only once every call sent on it has been
    /// completed by the C client: `close()` waits up to ``closeDrainTime`` for the server's
    /// answers (milliseconds on a live connection). If the server does not answer (frozen,
    /// partitioned), `close()` returns then and the handle is closed in the background as soon
    /// as the C client has completed those calls — at the latest when it gives up on the
    /// connection (two thirds of the session timeout). ``HandleCloseStateMachine`` decides; the
    /// thread sleeps on a condition signalled by the last completion and by session events.
    func closeOnThread() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread { [self] in
                close(callerWait: Self.closeDrainTime) { continuation.resume() }
            }.start()
        }
    }

    /// For a handle nobody waits for (a dropped client, an expired session's handle): the same,
    /// all in the background.
    func closeDetached() {
        Thread { [self] in
            close(callerWait: nil) {}
        }.start()
    }

    private func close(callerWait: Duration?, releaseCaller: () -> Void) {
        let start = ContinuousClock.now
        let calls = self.calls
        calls.beginClosing()
        var machine = HandleCloseStateMachine(now: start, callerWait: callerWait, giveUp: connectionGiveUpTime)
        var callerReleased = false
        while true {
            switch machine.check(unanswered: calls.unanswered, settled: sessionSettled, now: .now) {
            case .wait(let until):
                calls.waitForChange(until: until)
            case .releaseCaller:
                callerReleased = true
                releaseCaller()
            case .close(let unanswered, let release):
                if callerReleased {
                    logger.debug("ZooKeeper calls unanswered at close were waited for in the background", metadata: [
                        "zookeeper.waited_ms": "\((ContinuousClock.now - start).milliseconds)",
                        "zookeeper.unanswered": "\(unanswered)",
                    ])
                }
                closeNow()
                if release { releaseCaller() }
                return
            case .none:
                return
            }
        }
    }

    private func closeNow() {
        let calls = self.calls
        let inFlight = calls.unanswered
        zookeeper_close(pointer)
        let lost = calls.releaseOutstanding()
        ZooKeeperLogBridge.unregister(logToken)
        context.release()
        if inFlight > 0 {
            logger.warning("ZooKeeper handle closed with calls the server never answered: the C client drops them (ZOOKEEPER-2894)", metadata: [
                "zookeeper.unanswered": "\(inFlight)",
                "zookeeper.completions_lost": "\(lost)",
            ])
        } else {
            logger.debug("ZooKeeper handle closed", metadata: ["zookeeper.unanswered": "0"])
        }
    }
}
