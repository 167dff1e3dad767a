import Testing
@testable import ZooKeeper

/// The ZooKeeper client's state machines, driven with plain values: no server, no C client.
/// Listeners, waiters, consumers and calls are `Int`s or `String`s standing for the
/// continuations the connection keeps.
@Suite("ZooKeeper state machines")
struct ZooKeeperStateMachineTests {
    typealias Session = SessionStateMachine<String, Int>
    typealias Watches = WatchStateMachine<Int>
    typealias Connection = ConnectionStateMachine<String, String, Int, Int>

    static let far = ContinuousClock.now + .seconds(3600)

    // MARK: Session

    struct SessionRow: Sendable, CustomTestStringConvertible {
        var name: String
        var reopenExpiredSession = true
        /// Events of the current handle before the one tested (a connect waiter is added first).
        var before: [ZooKeeperSessionState] = []
        var event: ZooKeeperSessionState
        /// nil: the event changes nothing.
        var reported: ZooKeeperSessionState?
        var watches: Session.WatchEffect = .none
        var reopen = false
        /// The connect waiter is resumed by this event, with this error (nil: success).
        var resumesWaiter = false
        var outcome: ZooKeeperError.Code?
        var testDescription: String { name }
    }

    static let sessionRows: [SessionRow] = [
        SessionRow(name: "the first connected resumes connect and re-arms watches",
                   event: .connected, reported: .connected, watches: .rearm, resumesWaiter: true),
        SessionRow(name: "a read-only session counts as connected",
                   event: .connectedReadOnly, reported: .connectedReadOnly, watches: .rearm, resumesWaiter: true),
        SessionRow(name: "connected twice is reported once",
                   before: [.connected], event: .connected, reported: nil),
        SessionRow(name: "a disconnection is connecting, nothing else",
                   before: [.connected], event: .connecting, reported: .connecting),
        SessionRow(name: "a reconnect re-arms every watch",
                   before: [.connected, .connecting], event: .connected, reported: .connected, watches: .rearm),
        SessionRow(name: "still connecting is not reported again",
                   event: .connecting, reported: nil),
        SessionRow(name: "expiry before any session is connect's answer: sessionExpired, no reopen",
                   event: .expired, reported: .expired, watches: .fail, resumesWaiter: true, outcome: .sessionExpired),
        SessionRow(name: "expiry of a connected session opens a new one",
                   before: [.connected], event: .expired, reported: .expired, reopen: true),
        SessionRow(name: "expiry without reopenExpiredSession ends the watches",
                   reopenExpiredSession: false, before: [.connected], event: .expired, reported: .expired, watches: .fail),
        SessionRow(name: "every expiry is reported, even twice in a row",
                   before: [.connected, .expired], event: .expired, reported: .expired, reopen: true),
        SessionRow(name: "rejected credentials fail connect with authFailed",
                   event: .authFailed, reported: .authFailed, resumesWaiter: true, outcome: .authFailed),
        SessionRow(name: "a closed event from the C client is not a state of its own",
                   before: [.connected], event: .closed, reported: nil),
    ]

    @Test("sessionEvent → action", arguments: sessionRows)
    func sessionEvent(_ row: SessionRow) throws {
        var session = Session(reopenExpiredSession: row.reopenExpiredSession)
        let step63 = session.openingHandle()
        let generation = try #require(step63).generation
        #expect(session.addListener(id: 1, "listener") == .connecting)
        #expect(session.addConnectWaiter(id: 2, 42, deadline: Self.far) == nil)
        for state in row.before { _ = session.sessionEvent(state, generation: generation) }
        let action = session.sessionEvent(row.event, generation: generation)
        guard let reported = row.reported else {
            #expect(action == nil)
            return
        }
        let taken = try #require(action)
        #expect(taken.state == reported)
        #expect(session.state == reported)
        #expect(taken.listeners == ["listener"])
        #expect(taken.watches == row.watches)
        #expect(taken.reopen == row.reopen)
        #expect(taken.waiters == (row.resumesWaiter ? [42] : []))
        if row.resumesWaiter {
            let outcome = try #require(taken.outcome)
            switch outcome {
            case .success: #expect(row.outcome == nil)
            case .failure(let error): #expect(error.code == row.outcome)
            }
        }
    }

    @Test("the events of a replaced handle are ignored; a new handle announces connecting")
    func generations() throws {
        var session = Session(reopenExpiredSession: true)
        let step91 = session.openingHandle()
        let first = try #require(step91)
        #expect(first.announce.isEmpty, "already connecting")
        _ = session.addListener(id: 1, "l")
        #expect(session.sessionEvent(.connected, generation: first.generation) != nil)
        #expect(session.sessionEvent(.expired, generation: first.generation)?.reopen == true)
        let step96 = session.openingHandle()
        let second = try #require(step96)
        #expect(second.generation == first.generation + 1)
        #expect(second.announce == ["l"])
        #expect(session.state == .connecting)
        #expect(session.sessionEvent(.connected, generation: first.generation) == nil, "the old handle's event")
        #expect(session.sessionEvent(.connected, generation: second.generation)?.state == .connected)
    }

    @Test("connect waiters: an outcome already reached, a deadline, cancellation")
    func connectWaiters() throws {
        var session = Session(reopenExpiredSession: true)
        let step107 = session.openingHandle()
        let generation = try #require(step107).generation
        let start = ContinuousClock.now
        #expect(session.addConnectWaiter(id: 1, 1, deadline: start + .seconds(1)) == nil)
        #expect(session.addConnectWaiter(id: 2, 2, deadline: start + .seconds(5)) == nil)
        #expect(session.addConnectWaiter(id: 3, 3, deadline: start + .seconds(5)) == nil)
        #expect(session.expireConnectWaiters(now: start + .milliseconds(999)).isEmpty)
        #expect(session.expireConnectWaiters(now: start + .seconds(1)) == [1])
        #expect(session.removeConnectWaiter(id: 2) == 2, "a cancelled connect takes its waiter back")
        #expect(session.removeConnectWaiter(id: 2) == nil, "only once")
        #expect(session.sessionEvent(.connected, generation: generation)?.waiters == [3])
        // The handshake ended before the waiter came: the outcome is returned, nothing stored.
        let step118 = session.addConnectWaiter(id: 4, 4, deadline: Self.far)
        let late = try #require(step118)
        #expect((try? late.get()) != nil)
        #expect(session.close()?.waiters == [])
        let step121 = session.addConnectWaiter(id: 5, 5, deadline: Self.far)
        let closed = try #require(step121)
        #expect(throws: ZooKeeperError.self) { try closed.get() }
    }

    @Test("a closed session ignores every event and opens no handle")
    func closedSession() throws {
        var session = Session(reopenExpiredSession: true)
        let step128 = session.openingHandle()
        let generation = try #require(step128).generation
        _ = session.addListener(id: 1, "l")
        _ = session.addConnectWaiter(id: 2, 2, deadline: Self.far)
        let step131 = session.close()
        let closed = try #require(step131)
        #expect(closed.listeners == ["l"])
        #expect(closed.waiters == [2])
        #expect(session.state == .closed)
        #expect(session.close() == nil, "closing again does nothing")
        #expect(session.sessionEvent(.connected, generation: generation) == nil)
        #expect(session.openingHandle() == nil)
        #expect(session.addListener(id: 3, "late") == nil)
    }

    // MARK: Watch events

    static func data(_ value: String, czxid: Int64 = 1, mzxid: Int64) -> WatchSnapshot {
        .data(Array(value.utf8), ZooKeeperStat(czxid: czxid, mzxid: mzxid))
    }

    static func children(_ names: [String], czxid: Int64 = 1, cversion: Int32) -> WatchSnapshot {
        .children(names, ZooKeeperStat(czxid: czxid, cversion: cversion))
    }

    struct EventRow: Sendable, CustomTestStringConvertible {
        var name: String
        var from: WatchSnapshot?
        var to: WatchSnapshot
        var kind: ZooKeeperWatchEvent.Kind?
        var testDescription: String { name }
    }

    static let eventRows: [EventRow] = [
        EventRow(name: "nothing seen yet: initial", from: nil, to: data("a", mzxid: 1), kind: .initial),
        EventRow(name: "nothing seen yet, missing: initial", from: nil, to: .missing, kind: .initial),
        EventRow(name: "data changed", from: data("a", mzxid: 1), to: data("b", mzxid: 2), kind: .changed),
        EventRow(name: "same mzxid: nothing", from: data("a", mzxid: 1), to: data("a", mzxid: 1), kind: nil),
        EventRow(name: "created", from: .missing, to: data("a", mzxid: 3), kind: .created),
        EventRow(name: "deleted", from: data("a", mzxid: 1), to: .missing, kind: .deleted),
        EventRow(name: "still missing: nothing", from: .missing, to: .missing, kind: nil),
        EventRow(name: "deleted and re-created (new czxid): created",
                 from: data("a", czxid: 1, mzxid: 1), to: data("a", czxid: 9, mzxid: 9), kind: .created),
        EventRow(name: "children changed", from: children(["a"], cversion: 1), to: children(["a", "b"], cversion: 2), kind: .childrenChanged),
        EventRow(name: "children the same: nothing", from: children(["a"], cversion: 1), to: children(["a"], cversion: 1), kind: nil),
    ]

    @Test("event(from:to:)", arguments: eventRows)
    func event(_ row: EventRow) {
        let event = Watches.event(path: "/n", from: row.from, to: row.to)
        #expect(event?.kind == row.kind)
        if let event { #expect(event.path == "/n") }
    }

    // MARK: Watch runner and consumer

    /// A subscription whose first read (`initial`) the consumer took.
    static func watching(_ initial: WatchSnapshot = data("v0", mzxid: 1)) -> Watches {
        var watches = Watches()
        watches.add(id: 1, kind: .data, path: "/n")
        #expect(watches.target(of: 1)?.path == "/n")
        _ = watches.watchCompleted(id: 1, .success(initial), connected: true)
        if case .deliver(let event) = watches.next(id: 1, 7) { #expect(event.kind == .initial) } else { Issue.record("no initial event") }
        return watches
    }

    struct SlowConsumerRow: Sendable, CustomTestStringConvertible {
        var name: String
        var start: WatchSnapshot
        /// What the runner reads while the consumer is busy.
        var reads: [WatchSnapshot]
        /// The one event the consumer then gets (nil: none).
        var kind: ZooKeeperWatchEvent.Kind?
        var value: String?
        var testDescription: String { name }
    }

    static let slowConsumerRows: [SlowConsumerRow] = [
        SlowConsumerRow(name: "ten changes: one changed with the tenth value", start: data("v0", mzxid: 1),
                        reads: (1...10).map { data("v\($0)", mzxid: Int64(1 + $0)) }, kind: .changed, value: "v10"),
        SlowConsumerRow(name: "deleted and re-created: one created", start: data("v0", mzxid: 1),
                        reads: [.missing, data("new", czxid: 5, mzxid: 5)], kind: .created, value: "new"),
        SlowConsumerRow(name: "created and deleted again: nothing", start: .missing,
                        reads: [data("brief", czxid: 5, mzxid: 5), .missing], kind: nil),
        SlowConsumerRow(name: "changed, then deleted: one deleted", start: data("v0", mzxid: 1),
                        reads: [data("v1", mzxid: 2), .missing], kind: .deleted),
    ]

    @Test("a slow consumer gets one event summing up what it missed", arguments: slowConsumerRows)
    func slowConsumer(_ row: SlowConsumerRow) {
        var watches = Self.watching(row.start)
        for read in row.reads {
            let step218 = watches.watchFired(id: 1)
            #expect(step218, "the runner is idle: a notification starts it")
            let step = watches.watchCompleted(id: 1, .success(read), connected: true)
            #expect(step.next == .stop)
            #expect(step.resume == nil, "nobody is waiting")
        }
        switch watches.next(id: 1, 7) {
        case .deliver(let event):
            #expect(event.kind == row.kind)
            #expect(event.data.map { String(decoding: $0, as: UTF8.self) } == row.value)
            guard case .wait = watches.next(id: 1, 8) else { Issue.record("a second event"); return }
        case .wait:
            #expect(row.kind == nil)
        case .end:
            Issue.record("the watch ended")
        }
    }

    @Test("a waiting consumer is resumed by the next read that differs")
    func waitingConsumer() throws {
        var watches = Self.watching()
        guard case .wait = watches.next(id: 1, 8) else { Issue.record("expected to wait"); return }
        let step239 = watches.watchFired(id: 1)
        #expect(step239)
        // The same state again (say, after a reconnect): nothing to tell.
        #expect(watches.watchCompleted(id: 1, .success(Self.data("v0", mzxid: 1)), connected: true).resume == nil)
        let step242 = watches.watchFired(id: 1)
        #expect(step242)
        let resume = try #require(watches.watchCompleted(id: 1, .success(Self.data("v1", mzxid: 2)), connected: true).resume)
        #expect(resume.consumer == 8)
        #expect(try resume.result.get()?.kind == .changed)
        guard case .wait = watches.next(id: 1, 9) else { Issue.record("delivered twice"); return }
    }

    @Test("a notification during a read makes the runner read once more")
    func notificationDuringRead() {
        var watches = Watches()
        watches.add(id: 1, kind: .children, path: "/p")
        let step253 = watches.watchFired(id: 1)
        #expect(!step253, "running: no second runner")
        let step254 = watches.watchFired(id: 1)
        #expect(!step254)
        #expect(watches.watchCompleted(id: 1, .success(Self.children([], cversion: 0)), connected: true).next == .loop)
        #expect(watches.watchCompleted(id: 1, .success(Self.children(["a"], cversion: 1)), connected: true).next == .stop)
        let step257 = watches.watchFired(id: 1)
        #expect(step257, "idle again")
    }

    struct FailureRow: Sendable, CustomTestStringConvertible {
        var code: ZooKeeperError.Code
        var connected: Bool
        var notifiedMeanwhile = false
        var next: Watches.Step.Next
        /// The watch ends: nil, or with an error (`failed`).
        var ends = false
        var failed = false
        var testDescription: String { "\(code), connected: \(connected), notified: \(notifiedMeanwhile)" }
    }

    static let failureRows: [FailureRow] = [
        FailureRow(code: .connectionLoss, connected: true, next: .retryLater),
        FailureRow(code: .operationTimeout, connected: true, next: .retryLater),
        FailureRow(code: .connectionLoss, connected: false, next: .stop),
        FailureRow(code: .connectionLoss, connected: true, notifiedMeanwhile: true, next: .loop),
        FailureRow(code: .sessionExpired, connected: false, next: .stop),
        FailureRow(code: .closed, connected: true, next: .stop, ends: true),
        FailureRow(code: .noAuth, connected: true, next: .stop, ends: true, failed: true),
        FailureRow(code: .cancelled, connected: true, next: .stop, ends: true, failed: true),
    ]

    @Test("watchCompleted with a failed read → step", arguments: failureRows)
    func failedRead(_ row: FailureRow) throws {
        var watches = Self.watching()
        guard case .wait = watches.next(id: 1, 8) else { Issue.record("expected to wait"); return }
        let step286 = watches.watchFired(id: 1)
        #expect(step286)
        if row.notifiedMeanwhile { let step287 = watches.watchFired(id: 1); #expect(!step287) }
        let step = watches.watchCompleted(id: 1, .failure(ZooKeeperError(code: row.code, message: "test")), connected: row.connected)
        #expect(step.next == row.next)
        #expect(!step.removeLocalWatch)
        if row.ends {
            let resume = try #require(step.resume)
            #expect(resume.consumer == 8)
            switch resume.result {
            case .success(let event): #expect(event == nil && !row.failed)
            case .failure(let error): #expect(error.code == row.code && row.failed)
            }
            #expect(watches.target(of: 1) == nil, "the runner stops")
        } else {
            #expect(step.resume == nil)
            #expect(watches.target(of: 1) != nil)
        }
    }

    @Test("an end waits behind the pending event, then the watch is gone")
    func endAfterPending() {
        var watches = Self.watching()
        let step308 = watches.watchFired(id: 1)
        #expect(step308)
        _ = watches.watchCompleted(id: 1, .success(Self.data("v1", mzxid: 2)), connected: true)
        #expect(watches.endAll(.failed(ZooKeeperError(code: .sessionExpired, message: "expired"))).isEmpty, "nobody waits")
        #expect(watches.target(of: 1) == nil)
        let step312 = watches.watchFired(id: 1)
        #expect(!step312)
        guard case .deliver(let event) = watches.next(id: 1, 8), event.kind == .changed else { Issue.record("the pending event first"); return }
        guard case .end(let error?) = watches.next(id: 1, 8), error.code == .sessionExpired else { Issue.record("then the end"); return }
        guard case .end(nil) = watches.next(id: 1, 8) else { Issue.record("then nothing"); return }
        #expect(watches.subscriptions.isEmpty)
    }

    @Test("cancelling: the waiting consumer back, the C watch to drop; a read in flight drops it again")
    func cancel() throws {
        var watches = Self.watching()
        guard case .wait = watches.next(id: 1, 8) else { Issue.record("expected to wait"); return }
        let step323 = watches.watchFired(id: 1)
        #expect(step323)
        let step324 = watches.cancel(id: 1)
        let cancelled = try #require(step324)
        #expect(cancelled.consumer == 8)
        #expect(cancelled.wasLive)
        #expect(cancelled.path == "/n")
        #expect(watches.cancel(id: 1) == nil)
        let step = watches.watchCompleted(id: 1, .success(Self.data("v1", mzxid: 2)), connected: true)
        #expect(step.next == .stop)
        #expect(step.removeLocalWatch, "the read in flight registered the C watcher again")
        guard case .end(nil) = watches.next(id: 1, 9) else { Issue.record("a cancelled watch returns nil"); return }
    }

    @Test("a reconnect starts the idle runners and re-reads the running ones")
    func rearmAll() {
        var watches = Watches()
        watches.add(id: 1, kind: .data, path: "/a")
        watches.add(id: 2, kind: .data, path: "/b")
        watches.add(id: 3, kind: .data, path: "/c")
        _ = watches.watchCompleted(id: 1, .success(.missing), connected: true)
        _ = watches.watchCompleted(id: 3, .success(.missing), connected: true)
        _ = watches.endAll(.finished)  // ends all three: nothing to re-arm
        #expect(watches.rearmAll().isEmpty)

        var live = Watches()
        live.add(id: 1, kind: .data, path: "/a")
        live.add(id: 2, kind: .data, path: "/b")
        _ = live.watchCompleted(id: 1, .success(.missing), connected: true)
        #expect(live.rearmAll() == [1], "2 is running")
        #expect(live.watchCompleted(id: 2, .success(.missing), connected: true).next == .loop, "2 reads once more")
    }

    @Test("a second next() while one waits is refused")
    func concurrentNext() {
        var watches = Self.watching()
        guard case .wait = watches.next(id: 1, 8) else { Issue.record("expected to wait"); return }
        guard case .end(let error?) = watches.next(id: 1, 9) else { Issue.record("expected an error"); return }
        #expect(error.code == .badArguments)
    }

    // MARK: Connection and shutdown

    @Test("close → action: calls, waiters, listeners and waiting consumers, once")
    func close() throws {
        var connection = Connection(reopenExpiredSession: true)
        let step367 = connection.session.openingHandle()
        let generation = try #require(step367).generation
        _ = connection.session.addListener(id: connection.makeID(), "listener")
        _ = connection.session.addConnectWaiter(id: connection.makeID(), 5, deadline: Self.far)
        let first = try #require(connection.startOperation { "call \($0)" })
        let second = try #require(connection.startOperation { "call \($0)" })
        connection.operationFinished(id: 3)
        let step373 = connection.addSubscription(id: 10, kind: .data, path: "/w")
        #expect(step373)
        let step374 = connection.addSubscription(id: 11, kind: .data, path: "/v")
        #expect(step374)
        _ = connection.watchCompleted(id: 10, .success(.missing))
        guard case .wait = connection.watches.next(id: 11, 77) else { Issue.record("expected to wait"); return }

        let step378 = connection.close()
        let action = try #require(step378)
        #expect(action.operations == [second], "\(first) had finished")
        #expect(action.waiters == [5])
        #expect(action.listeners == ["listener"])
        #expect(action.consumers == [77], "watch 11's consumer was waiting; 10's initial event is still pending")
        #expect(connection.isClosed)
        #expect(connection.close() == nil)
        #expect(connection.startOperation { "late \($0)" } == nil)
        #expect(connection.operationsInFlight == nil, "the sweeper stops")
        let step387 = connection.addSubscription(id: 12, kind: .data, path: "/x")
        #expect(!step387)
        #expect(connection.sessionEvent(.connected, generation: generation) == nil)
        guard case .deliver(let event) = connection.watches.next(id: 10, 78), event.kind == .initial else {
            Issue.record("the pending initial event is still delivered"); return
        }
        guard case .end(nil) = connection.watches.next(id: 10, 78) else { Issue.record("then the watch finishes"); return }
    }

    @Test("a session event applies its watch effect: re-arm on connected, end on expiry without reopen")
    func sessionEventWatches() throws {
        var connection = Connection(reopenExpiredSession: false)
        let step398 = connection.session.openingHandle()
        let generation = try #require(step398).generation
        let step399 = connection.addSubscription(id: 1, kind: .data, path: "/a")
        #expect(step399)
        _ = connection.watchCompleted(id: 1, .success(.missing))
        #expect(connection.sessionEvent(.connected, generation: generation)?.startRunners == [1])
        _ = connection.watchCompleted(id: 1, .success(.missing))
        guard case .deliver = connection.watches.next(id: 1, 5) else { Issue.record("initial"); return }
        guard case .wait = connection.watches.next(id: 1, 5) else { Issue.record("expected to wait"); return }
        let step405 = connection.sessionEvent(.expired, generation: generation)
        let expired = try #require(step405)
        #expect(expired.resumes.map(\.consumer) == [5])
        #expect(throws: ZooKeeperError.self) { try expired.resumes.first?.result.get() }
    }

    // MARK: Closing a handle

    struct HandleCloseRow: Sendable, CustomTestStringConvertible {
        var name: String
        var callerWait: Duration?
        /// (ms since start, unanswered, settled) → step.
        var checks: [(at: Int, unanswered: Int, settled: Bool, step: Step)]
        var testDescription: String { name }

        enum Step: Sendable, Equatable {
            case wait(untilMs: Int)
            case releaseCaller
            case close(unanswered: Int, releaseCaller: Bool)
            case none
        }
    }

    static let handleCloseRows: [HandleCloseRow] = [
        HandleCloseRow(name: "drained at once: closed, then the caller released", callerWait: .seconds(1), checks: [
            (0, 0, true, .close(unanswered: 0, releaseCaller: true)),
            (1, 0, true, .none),
        ]),
        HandleCloseRow(name: "answers come within the caller's wait", callerWait: .seconds(1), checks: [
            (0, 2, true, .wait(untilMs: 50)),
            (10, 1, true, .wait(untilMs: 60)),
            (20, 0, true, .close(unanswered: 0, releaseCaller: true)),
        ]),
        HandleCloseRow(name: "a handshake under way is waited for too", callerWait: .seconds(1), checks: [
            (0, 0, false, .wait(untilMs: 50)),
            (50, 0, true, .close(unanswered: 0, releaseCaller: true)),
        ]),
        HandleCloseRow(name: "no answer: the caller is released, then closed in the background", callerWait: .seconds(1), checks: [
            (990, 3, true, .wait(untilMs: 1000)),
            (1000, 3, true, .releaseCaller),
            (1500, 1, true, .wait(untilMs: 1550)),
            (2000, 0, true, .close(unanswered: 0, releaseCaller: false)),
        ]),
        HandleCloseRow(name: "never answered: closed when the C client should have given up", callerWait: .seconds(1), checks: [
            (1000, 3, true, .releaseCaller),
            (5990, 3, true, .wait(untilMs: 6000)),
            (6000, 3, true, .close(unanswered: 3, releaseCaller: false)),
        ]),
        HandleCloseRow(name: "nobody waits (a dropped client): background from the start", callerWait: nil, checks: [
            (0, 1, true, .wait(untilMs: 50)),
            (5000, 1, true, .close(unanswered: 1, releaseCaller: false)),
        ]),
    ]

    @Test("HandleCloseStateMachine: completions drained → close", arguments: handleCloseRows)
    func handleClose(_ row: HandleCloseRow) {
        let start = ContinuousClock.now
        var machine = HandleCloseStateMachine(now: start, callerWait: row.callerWait, giveUp: .seconds(5))
        for check in row.checks {
            let step = machine.check(unanswered: check.unanswered, settled: check.settled, now: start + .milliseconds(check.at))
            let expected: HandleCloseStateMachine.Step = switch check.step {
            case .wait(let ms): .wait(until: start + .milliseconds(ms))
            case .releaseCaller: .releaseCaller
            case .close(let unanswered, let release): .close(unanswered: unanswered, releaseCaller: release)
            case .none: .none
            }
            #expect(step == expected, "at \(check.at) ms")
        }
    }
}
