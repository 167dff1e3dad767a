import CZooKeeper
import Metrics
import NIOConcurrencyHelpers
#if DistributedTracingSupport
import Tracing
#endif


#if DistributedTracingSupport
typealias OperationSpan = any Span
#else
typealias OperationSpan = Never
#endif

/// Something in flight that `close()` can end.
protocol PendingOperation: AnyObject, Sendable {
    func fail(_ error: ZooKeeperError)
    /// Fails the call with `.operationTimeout` when its deadline is at or before `now`.
    func expireIfDue(_ now: ContinuousClock.Instant)
}

/// The context of one `zoo_a*` call: retained by the C client until its completion runs
/// (`Unmanaged.passRetained`), and resumed exactly once — by the completion, the deadline
/// (checked by the connection's one sweeper, see `ZooKeeperConnection.sweepDeadlines`), task
/// cancellation or `close()`, whichever comes first; the later ones are ignored.
final class OperationBox<Value: Sendable>: PendingOperation, @unchecked Sendable {
    // @unchecked: `keepAlive` is immutable and only owns buffers the C client writes into before
    // the completion runs; everything mutable is in `state` or is touched only inside
    // `state.withLockedValue` (`continuation`, `result`).
    let id: Int
    let operation: String
    let path: String?
    let keepAlive: AnyObject?
    private let start = ContinuousClock.now
    private weak let connection: ZooKeeperConnection?
    private let metrics: ZooKeeperMetrics
    /// The call's client span: started in the calling task (so its parent is the caller's
    /// context), ended with the result on whichever thread delivers it.
    let span: OperationSpan?

    /// Not generic, so locking it is specialized code: a `State` holding the generic
    /// continuation and result was copied through value witnesses, ~5,000 instructions per
    /// call (scripts/profile.sh).
    private struct State {
        var hasResult = false
        var resumed = false
        var deadline: ContinuousClock.Instant?
        var timeout: Duration = .zero
    }
    private let state = NIOLockedValueBox(State())
    /// Touched only inside `state.withLockedValue`.
    private var continuation: CheckedContinuation<Value, any Error>?
    private var result: Result<Value, ZooKeeperError>?

    init(id: Int, operation: String, path: String?, connection: ZooKeeperConnection, keepAlive: AnyObject?, span: OperationSpan? = nil) {
        self.id = id
        self.span = span
        self.metrics = connection.metrics
        self.operation = operation
        self.path = path
        self.connection = connection
        self.keepAlive = keepAlive
    }

    func setContinuation(_ continuation: CheckedContinuation<Value, any Error>) {
        let result: Result<Value, ZooKeeperError>? = state.withLockedValue { s in
            if s.hasResult {
                s.resumed = true
                defer { self.result = nil }
                return self.result
            }
            self.continuation = continuation
            return nil
        }
        if let result { deliver(result, to: continuation) }
    }

    private func deliver(_ result: Result<Value, ZooKeeperError>, to continuation: CheckedContinuation<Value, any Error>) {
        connection?.operationFinished(id)
        metrics.record(operation: operation, error: result.failureCode, since: start)
        #if DistributedTracingSupport
        if let span { ZooKeeperTracing.end(span, error: result.failure) }
        #endif
        continuation.resume(with: result.mapError { $0 })
    }

    /// Arms the deadline: the call fails with `.operationTimeout` unless it completes within
    /// `timeout`. No timer per call — a sleeping task per call costs about a kilobyte held until
    /// its deadline even when cancelled, which at 10,000 calls/s and a 10 s timeout is 100 MB.
    func startDeadline(_ timeout: Duration) {
        state.withLockedValue { s in
            guard !s.resumed, !s.hasResult else { return }
            s.deadline = ContinuousClock.now + timeout
            s.timeout = timeout
        }
    }

    func expireIfDue(_ now: ContinuousClock.Instant) {
        let timeout: Duration? = state.withLockedValue { s in
            guard !s.resumed, !s.hasResult, let deadline = s.deadline, deadline <= now else { return nil }
            return s.timeout
        }
        guard let timeout else { return }
        finish(.failure(ZooKeeperError(
            code: .operationTimeout, path: path,
            message: "\(operation)\(path.map { " " + $0 } ?? ""): no answer from ZooKeeper within \(timeout) (operationTimeout) — is the server reachable? Retry; a write may already have been applied")))
    }

    /// Whether the call already has its result (or was resumed).
    var isFinished: Bool { state.withLockedValue { $0.resumed || $0.hasResult } }

    func succeed(_ value: Value) { finish(.success(value)) }
    func fail(_ error: ZooKeeperError) { finish(.failure(error)) }
    func fail(returnCode: Int32) {
        finish(.failure(ZooKeeperError(returnCode: returnCode, operation: operation, path: path)))
    }

    func finish(_ result: Result<Value, ZooKeeperError>) {
        let continuation: CheckedContinuation<Value, any Error>? = state.withLockedValue { s in
            guard !s.resumed, !s.hasResult else { return nil }
            s.deadline = nil
            if let continuation = self.continuation {
                s.resumed = true
                self.continuation = nil
                return continuation
            }
            s.hasResult = true
            self.result = result
            return nil
        }
        guard let continuation else { return }
        deliver(result, to: continuation)
    }

    /// Takes back the box the C client retained for a completion (`ZooKeeperCallbacks`).
    static func take(_ data: UnsafeRawPointer?) -> OperationBox<Value> {
        let box = Unmanaged<OperationBox<Value>>.fromOpaque(data!).takeRetainedValue()
        box.owner?.disown(box)
        return box
    }

    /// The handle the call was sent on (set before the C call, under the handle lock).
    var owner: ZooKeeperHandle? {
        get { ownerSlot.withLockedValue { $0.handle } }
        set { ownerSlot.withLockedValue { $0.handle = newValue } }
    }
    private struct WeakHandle { weak var handle: ZooKeeperHandle? }
    private let ownerSlot = NIOLockedValueBox(WeakHandle())
}

extension Result where Failure == ZooKeeperError {
    fileprivate var failureCode: ZooKeeperError.Code? {
        if case .failure(let e) = self { return e.code }
        return nil
    }

    fileprivate var failure: ZooKeeperError? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
