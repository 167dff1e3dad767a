@testable import Etcd
import NIOCore
import Testing

/// The gRPC connection's protocol state (`GRPCConnectionStateMachine`), without a server: each
/// scenario is a table of events (at instants of the test's choosing) and the exact action each
/// one must return.
@Suite("gRPC connection state machine: stream limit, GOAWAY, RST_STREAM, deadlines, keepalive (no server)")
struct GRPCConnectionStateMachineTests {
    typealias Machine = GRPCConnectionStateMachine
    typealias Action = Machine.Action
    typealias CallFailure = Machine.CallFailure

    static let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    static func at(_ ms: Int64) -> NIODeadline { t0 + .milliseconds(ms) }

    enum Event: Sendable {
        case start(Int, timeout: Duration?)
        case started(Int, streamID: Int32)
        case startFailed(Int, code: Int32)
        case headersSent(Int32)
        case closed(Int32, errorCode: UInt32)
        case cancel(Int, Machine.Failure)
        case nextQueued
        case settings(maxConcurrentStreams: UInt32)
        case goAway(lastStreamID: Int32)
        case deadlineTimer
        case keepAliveTimer
        case pingAck
        case pingTimeout
        case inactive
    }

    struct Step: Sendable {
        var ms: Int64
        var event: Event
        var expected: Action
        init(_ ms: Int64, _ event: Event, _ expected: Action) {
            self.ms = ms
            self.event = event
            self.expected = expected
        }
    }

    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        /// The server's first SETTINGS_MAX_CONCURRENT_STREAMS.
        var limit: UInt32
        var steps: [Step]
        var testDescription: String { name }
    }

    static func apply(_ event: Event, to machine: inout Machine, now: NIODeadline) -> Action {
        switch event {
        case .start(let id, let timeout): return machine.startCall(id, timeout: timeout, now: now)
        case .started(let id, let streamID): return machine.streamStarted(id, streamID: streamID)
        case .startFailed(let id, let code): return machine.streamStartFailed(id, code: code)
        case .headersSent(let streamID): return machine.requestHeadersSent(streamID: streamID)
        case .closed(let streamID, let code): return machine.streamClosed(streamID: streamID, errorCode: code, now: now)
        case .cancel(let id, let failure): return machine.cancelCall(id, failure)
        case .nextQueued: return machine.nextQueuedCall(now: now)
        case .settings(let limit): return machine.settingsReceived(maxConcurrentStreams: limit)
        case .goAway(let last): return machine.goAwayReceived(lastStreamID: last)
        case .deadlineTimer: return machine.deadlineTimerFired(now: now)
        case .keepAliveTimer: return machine.keepAliveTimerFired()
        case .pingAck: return machine.pingAcked()
        case .pingTimeout: return machine.pingTimeoutFired()
        case .inactive: return machine.channelInactive()
        }
    }

    static func fail(_ id: Int, _ failure: Machine.Failure, reset streamID: Int32? = nil) -> CallFailure {
        CallFailure(call: id, failure: failure, resetStreamID: streamID)
    }

    static let scenarios: [Scenario] = [
        Scenario(name: "a finished stream frees its slot: the next queued call starts with the time it has left", limit: 1, steps: [
            Step(0, .start(1, timeout: .seconds(5)), .startStream(1, grpcTimeout: .seconds(5), armDeadlineTimer: at(5000))),
            Step(0, .started(1, streamID: 1), .none),
            Step(1000, .start(2, timeout: .seconds(5)), .queued(armDeadlineTimer: nil)),
            Step(1000, .nextQueued, .none),
            Step(2000, .closed(1, errorCode: 0), .finishStream(1, .noError)),
            Step(2000, .nextQueued, .startStream(2, grpcTimeout: .seconds(4), armDeadlineTimer: nil)),
            Step(2000, .started(2, streamID: 3), .none),
            Step(2000, .nextQueued, .none),
        ]),
        Scenario(name: "GOAWAY while calls are queued: they fail unsent, the open stream continues, new calls are refused", limit: 1, steps: [
            Step(0, .start(1, timeout: nil), .startStream(1, grpcTimeout: nil, armDeadlineTimer: nil)),
            Step(0, .started(1, streamID: 1), .none),
            Step(0, .start(2, timeout: .seconds(5)), .queued(armDeadlineTimer: at(5000))),
            Step(0, .start(3, timeout: nil), .queued(armDeadlineTimer: nil)),
            Step(10, .goAway(lastStreamID: 1), .failCalls([fail(2, .goAwayBeforeSending), fail(3, .goAwayBeforeSending)],
                                                        armDeadlineTimer: nil)),
            Step(10, .start(4, timeout: nil), .failCall(4, .connectionClosing)),
            Step(20, .closed(1, errorCode: 0), .finishStream(1, .noError)),
            Step(20, .nextQueued, .none),
            Step(5000, .deadlineTimer, .failCalls([], armDeadlineTimer: nil)),
        ]),
        Scenario(name: "GOAWAY: a stream above last-stream-id is refused (unsent), those at or below fail as maybe processed on close", limit: 10, steps: [
            Step(0, .start(1, timeout: nil), .startStream(1, grpcTimeout: nil, armDeadlineTimer: nil)),
            Step(0, .started(1, streamID: 1), .none),
            Step(0, .start(2, timeout: nil), .startStream(2, grpcTimeout: nil, armDeadlineTimer: nil)),
            Step(0, .started(2, streamID: 3), .none),
            Step(0, .start(3, timeout: nil), .startStream(3, grpcTimeout: nil, armDeadlineTimer: nil)),
            Step(0, .started(3, streamID: 5), .none),
            Step(0, .goAway(lastStreamID: 3), .failCalls([], armDeadlineTimer: nil)),
            Step(0, .closed(5, errorCode: Machine.refusedStream), .finishStream(3, .refused)),
            Step(0, .goAway(lastStreamID: 1), .failCalls([], armDeadlineTimer: nil)),
            Step(0, .inactive, .failCalls([fail(1, .connectionLostAfterGoAway), fail(2, .connectionLost)], armDeadlineTimer: nil)),
        ]),
        Scenario(name: "RST_STREAM on open streams: its code, REFUSED_STREAM, CANCEL at the deadline; a closed stream is forgotten", limit: 10, steps: [
            Step(0, .start(1, timeout: .seconds(1)), .startStream(1, grpcTimeout: .seconds(1), armDeadlineTimer: at(1000))),
            Step(0, .started(1, streamID: 1), .none),
            Step(0, .start(2, timeout: .seconds(1)), .startStream(2, grpcTimeout: .seconds(1), armDeadlineTimer: nil)),
            Step(0, .started(2, streamID: 3), .none),
            Step(0, .start(3, timeout: .seconds(1)), .startStream(3, grpcTimeout: .seconds(1), armDeadlineTimer: nil)),
            Step(0, .started(3, streamID: 5), .none),
            Step(0, .start(4, timeout: .seconds(1)), .startStream(4, grpcTimeout: .seconds(1), armDeadlineTimer: nil)),
            Step(0, .started(4, streamID: 7), .none),
            Step(100, .closed(1, errorCode: 2), .finishStream(1, .reset(2))),
            Step(100, .closed(1, errorCode: 2), .none),
            Step(100, .closed(3, errorCode: Machine.refusedStream), .finishStream(2, .refused)),
            Step(500, .closed(5, errorCode: Machine.cancel), .finishStream(3, .reset(Machine.cancel))),
            Step(800, .closed(7, errorCode: Machine.cancel), .finishStream(4, .cancelledAtDeadline)),
            Step(1000, .deadlineTimer, .failCalls([], armDeadlineTimer: nil)),
        ]),
        Scenario(name: "a deadline passes while the call is queued: it fails unsent, never starts", limit: 1, steps: [
            Step(0, .start(1, timeout: .seconds(10)), .startStream(1, grpcTimeout: .seconds(10), armDeadlineTimer: at(10_000))),
            Step(0, .started(1, streamID: 1), .none),
            Step(0, .start(2, timeout: .seconds(1)), .queued(armDeadlineTimer: at(1000))),
            Step(0, .start(3, timeout: .seconds(3)), .queued(armDeadlineTimer: nil)),
            Step(1000, .deadlineTimer, .failCalls([fail(2, .deadlineWhileQueued(timeout: .seconds(1), peerStreamLimit: 1))],
                                                 armDeadlineTimer: at(3000))),
            Step(3000, .closed(1, errorCode: 0), .finishStream(1, .noError)),
            // The timer has not run yet: the call leaves the queue with no time left.
            Step(3000, .nextQueued, .failCall(3, .deadlineBeforeSending)),
            Step(3000, .nextQueued, .none),
        ]),
        Scenario(name: "a deadline passes on open streams: they are reset in stream order, the slot frees when nghttp2 closes it", limit: 2, steps: [
            Step(0, .start(1, timeout: .seconds(2)), .startStream(1, grpcTimeout: .seconds(2), armDeadlineTimer: at(2000))),
            Step(0, .started(1, streamID: 1), .none),
            Step(0, .start(2, timeout: .seconds(1)), .startStream(2, grpcTimeout: .seconds(1), armDeadlineTimer: at(1000))),
            Step(0, .started(2, streamID: 3), .none),
            Step(0, .start(3, timeout: nil), .queued(armDeadlineTimer: nil)),
            Step(2000, .deadlineTimer, .failCalls([fail(1, .deadlineExceeded(timeout: .seconds(2)), reset: 1),
                                                  fail(2, .deadlineExceeded(timeout: .seconds(1)), reset: 3)], armDeadlineTimer: nil)),
            Step(2000, .nextQueued, .none),
            Step(2001, .closed(1, errorCode: Machine.cancel), .none),
            Step(2001, .nextQueued, .startStream(3, grpcTimeout: nil, armDeadlineTimer: nil)),
        ]),
        Scenario(name: "an unanswered keepalive PING closes the connection, and the open and queued calls fail", limit: 1, steps: [
            Step(0, .start(1, timeout: nil), .startStream(1, grpcTimeout: nil, armDeadlineTimer: nil)),
            Step(0, .started(1, streamID: 1), .none),
            Step(0, .headersSent(1), .none),
            Step(0, .start(2, timeout: nil), .queued(armDeadlineTimer: nil)),
            Step(0, .keepAliveTimer, .sendPing),
            Step(0, .keepAliveTimer, .none),
            Step(0, .pingTimeout, .closeConnection(.keepAliveTimeout)),
            Step(0, .inactive, .failCalls([fail(1, .connectionLost), fail(2, .connectionLostBeforeSending)], armDeadlineTimer: nil)),
            Step(0, .pingTimeout, .none),
            Step(0, .keepAliveTimer, .none),
            Step(0, .start(3, timeout: nil), .failCall(3, .connectionClosing)),
        ]),
        Scenario(name: "an answered PING stops its timeout and the next interval pings again", limit: 1, steps: [
            Step(0, .keepAliveTimer, .sendPing),
            Step(0, .pingAck, .cancelPingTimeout),
            Step(0, .pingTimeout, .none),
            Step(0, .pingAck, .none),
            Step(0, .keepAliveTimer, .sendPing),
        ]),
        Scenario(name: "SETTINGS changes the stream limit: raising it starts queued calls, lowering it queues new ones", limit: 1, steps: [
            Step(0, .start(1, timeout: nil), .startStream(1, grpcTimeout: nil, armDeadlineTimer: nil)),
            Step(0, .started(1, streamID: 1), .none),
            Step(0, .start(2, timeout: nil), .queued(armDeadlineTimer: nil)),
            Step(0, .start(3, timeout: nil), .queued(armDeadlineTimer: nil)),
            Step(0, .settings(maxConcurrentStreams: 3), .none),
            Step(0, .nextQueued, .startStream(2, grpcTimeout: nil, armDeadlineTimer: nil)),
            Step(0, .started(2, streamID: 3), .none),
            Step(0, .nextQueued, .startStream(3, grpcTimeout: nil, armDeadlineTimer: nil)),
            Step(0, .started(3, streamID: 5), .none),
            Step(0, .nextQueued, .none),
            Step(0, .settings(maxConcurrentStreams: 1), .none),
            Step(0, .start(4, timeout: nil), .queued(armDeadlineTimer: nil)),
            Step(0, .closed(1, errorCode: 0), .finishStream(1, .noError)),
            Step(0, .closed(3, errorCode: 0), .finishStream(2, .noError)),
            Step(0, .nextQueued, .none),
            Step(0, .closed(5, errorCode: 0), .finishStream(3, .noError)),
            Step(0, .nextQueued, .startStream(4, grpcTimeout: nil, armDeadlineTimer: nil)),
        ]),
        Scenario(name: "cancel: a queued call leaves the queue, an open one is reset and holds its slot until closed", limit: 1, steps: [
            Step(0, .start(1, timeout: nil), .startStream(1, grpcTimeout: nil, armDeadlineTimer: nil)),
            Step(0, .started(1, streamID: 1), .none),
            Step(0, .start(2, timeout: nil), .queued(armDeadlineTimer: nil)),
            Step(0, .start(3, timeout: nil), .queued(armDeadlineTimer: nil)),
            Step(0, .cancel(2, .cancelled), .failCall(2, .cancelled)),
            Step(0, .cancel(1, .messageTooLarge(size: 10, limit: 5)), .resetStream(1, streamID: 1, .messageTooLarge(size: 10, limit: 5))),
            Step(0, .cancel(1, .cancelled), .none),
            Step(0, .nextQueued, .none),
            Step(0, .closed(1, errorCode: Machine.cancel), .none),
            Step(0, .nextQueued, .startStream(3, grpcTimeout: nil, armDeadlineTimer: nil)),
            Step(0, .startFailed(3, code: -509), .failCall(3, .startFailed(-509))),
            Step(0, .cancel(99, .cancelled), .none),
        ]),
    ]

    @Test(arguments: scenarios)
    func scenario(_ scenario: Scenario) {
        var machine = Machine()
        #expect(machine.channelActive() == .none)
        #expect(machine.settingsReceived(maxConcurrentStreams: scenario.limit) == .connectionReady)
        #expect(machine.settingsReceived(maxConcurrentStreams: scenario.limit) == .none)
        for (index, step) in scenario.steps.enumerated() {
            let action = Self.apply(step.event, to: &machine, now: Self.at(step.ms))
            #expect(action == step.expected, "step \(index): \(step.event)")
        }
    }

    @Test("before the session exists, and after it closed, calls are refused and no PING is sent")
    func notOpen() {
        var machine = Machine()
        #expect(machine.startCall(1, timeout: nil, now: Self.t0) == .failCall(1, .connectionClosing))
        #expect(machine.keepAliveTimerFired() == .none)
        _ = machine.channelActive()
        #expect(machine.startCall(2, timeout: nil, now: Self.t0) == .startStream(2, grpcTimeout: nil, armDeadlineTimer: nil))
        #expect(machine.channelInactive() == .failCalls([], armDeadlineTimer: nil))  // 2 never got a stream ID
        #expect(machine.startCall(3, timeout: nil, now: Self.t0) == .failCall(3, .connectionClosing))
    }

    @Test("the statistics count streams on the wire, queued calls and the server's limit")
    func counts() {
        var machine = Machine()
        _ = machine.channelActive()
        #expect(machine.peerStreamLimit == .max)
        _ = machine.settingsReceived(maxConcurrentStreams: 1)
        _ = machine.startCall(1, timeout: nil, now: Self.t0)
        _ = machine.streamStarted(1, streamID: 1)
        #expect(machine.openStreamCount == 0)
        _ = machine.requestHeadersSent(streamID: 1)
        _ = machine.startCall(2, timeout: nil, now: Self.t0)
        #expect((machine.openStreamCount, machine.queuedCallCount, machine.peerStreamLimit) == (1, 1, 1))
        #expect(!machine.canStartQueuedCall)
        _ = machine.streamClosed(streamID: 1, errorCode: 0, now: Self.t0)
        #expect(machine.canStartQueuedCall)
        #expect(machine.openStreamCount == 0)
    }

    @Test("failures map to errors: unsent ones are marked not processed, sent ones are not")
    func classification() throws {
        let endpoint = try EtcdEndpoint.parse("http://127.0.0.1:2379", defaultTLS: false)
        func error(_ failure: Machine.Failure) -> EtcdError {
            EtcdError.call(failure, path: "/etcdserverpb.KV/Put", endpoint: endpoint, lastError: nil)
        }
        let goAway = error(.goAwayBeforeSending)
        #expect(goAway.code == .unavailable && goAway.notProcessed)
        let queued = error(.deadlineWhileQueued(timeout: .seconds(1), peerStreamLimit: 3))
        #expect(queued.code == .deadlineExceeded && queued.notProcessed)
        #expect(queued.message.contains("it allows 3 concurrent streams"))
        let open = error(.deadlineExceeded(timeout: .seconds(1)))
        #expect(open.code == .deadlineExceeded && !open.notProcessed)
        let afterGoAway = error(.connectionLostAfterGoAway)
        #expect(afterGoAway.code == .unavailable && !afterGoAway.notProcessed)
        let unsent = error(.connectionLostBeforeSending)
        #expect(unsent.code == .unavailable && unsent.notProcessed)
        #expect(error(.cancelled).code == .cancelled)

        func ended(_ end: Machine.StreamEnd, grpcStatus: Int? = nil, http: Int? = 200) -> EtcdError? {
            EtcdError.streamEnded(end, grpcStatus: grpcStatus, grpcMessage: nil, httpStatus: http,
                                  path: "/etcdserverpb.KV/Range", endpoint: endpoint)
        }
        #expect(ended(.noError, grpcStatus: 0) == nil)
        #expect(ended(.refused)?.code == .unavailable && ended(.refused)?.notProcessed == true)
        #expect(ended(.reset(2))?.code == .unavailable && ended(.reset(2))?.notProcessed == false)
        #expect(ended(.cancelledAtDeadline)?.code == .deadlineExceeded)
        #expect(ended(.refused, grpcStatus: 5)?.code == .notFound)  // the grpc-status decides first
        #expect(ended(.noError, http: 404)?.code == .unimplemented)
        #expect(ended(.noError)?.code == .protocolError)
    }
}
