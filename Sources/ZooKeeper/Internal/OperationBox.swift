import CZooKeeper
import Metrics


/// Something in flight that `close()` can end.
protocol PendingOperation: AnyObject, Sendable {
    func fail(_ error: ZooKeeperError)
}

/// The context of one `zoo_a*` call: retained by the C client until its completion runs
/// (`Unmanaged.passRetained`), and resumed exactly once — by the completion, the deadline timer,
/// task cancellation or `close()`, whichever comes first; the later ones are ignored.
final class OperationBox<Value: Sendable>: PendingOperation, @unchecked Sendable {
    // @unchecked: `keepAlive` is immutable and only owns buffers the C client writes into before
    // the completion runs; everything mutable is in `state`.
    let id: Int
    let operation: String
    let path: String?
    let keepAlive: AnyObject?
    private let start = ContinuousClock.now
    private weak let connection: ZooKeeperConnection?

    private struct State {
        var continuation: CheckedContinuation<Value, any Error>?
        var result: Result<Value, ZooKeeperError>?
        var resumed = false
        var timer: Task<Void, Never>?
    }
    private let state = Locked(State())

    init(id: Int, operation: String, path: String?, connection: ZooKeeperConnection, keepAlive: AnyObject?) {
        self.id = id
        self.operation = operation
        self.path = path
        self.connection = connection
        self.keepAlive = keepAlive
    }

    func setContinuation(_ continuation: CheckedContinuation<Value, any Error>) {
        let result: Result<Value, ZooKeeperError>? = state.withLock { s in
            if let result = s.result {
                s.resumed = true
                return result
            }
            s.continuation = continuation
            return nil
        }
        if let result { deliver(result, to: continuation) }
    }

    private func deliver(_ result: Result<Value, ZooKeeperError>, to continuation: CheckedContinuation<Value, any Error>) {
        connection?.operationFinished(id)
        ZooKeeperMetrics.record(operation: operation, error: result.failureCode, since: start)
        continuation.resume(with: result.mapError { $0 })
    }

    /// Fails the call with `.operationTimeout` unless it completed within `timeout`.
    func startDeadline(_ timeout: Duration) {
        let task = Task { [weak self] in
            do { try await Task.sleep(for: timeout) } catch { return }
            guard let self else { return }
            self.finish(.failure(ZooKeeperError(
                code: .operationTimeout, path: self.path,
                message: "\(self.operation)\(self.path.map { " " + $0 } ?? ""): no answer from ZooKeeper within \(timeout) (operationTimeout) — is the server reachable? Retry; a write may already have been applied")))
        }
        let cancel = state.withLock { s -> Bool in
            if s.resumed || s.result != nil { return true }
            s.timer = task
            return false
        }
        if cancel { task.cancel() }
    }

    func succeed(_ value: Value) { finish(.success(value)) }
    func fail(_ error: ZooKeeperError) { finish(.failure(error)) }
    func fail(returnCode: Int32) {
        finish(.failure(ZooKeeperError(returnCode: returnCode, operation: operation, path: path)))
    }

    func finish(_ result: Result<Value, ZooKeeperError>) {
        let (continuation, timer): (CheckedContinuation<Value, any Error>?, Task<Void, Never>?) = state.withLock { s in
            guard !s.resumed, s.result == nil else { return (nil, nil) }
            let timer = s.timer
            s.timer = nil
            if let continuation = s.continuation {
                s.resumed = true
                s.continuation = nil
                return (continuation, timer)
            }
            s.result = result
            return (nil, timer)
        }
        timer?.cancel()
        guard let continuation else { return }
        deliver(result, to: continuation)
    }

    /// Takes back the box the C client retained for a completion.
    static func take(_ data: UnsafeRawPointer?) -> OperationBox<Value> {
        Unmanaged<OperationBox<Value>>.fromOpaque(data!).takeRetainedValue()
    }
}

extension Result where Failure == ZooKeeperError {
    fileprivate var failureCode: ZooKeeperError.Code? {
        if case .failure(let e) = self { return e.code }
        return nil
    }
}

enum ZooKeeperMetrics {
    static func record(operation: String, error: ZooKeeperError.Code?, since start: ContinuousClock.Instant) {
        let dimensions = [("operation", operation)]
        Counter(label: "zookeeper_operations_total", dimensions: dimensions).increment()
        if let error {
            Counter(label: "zookeeper_errors_total", dimensions: dimensions + [("code", error.description)]).increment()
        }
        let elapsed = ContinuousClock.now - start
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        Metrics.Timer(label: "zookeeper_operation_duration", dimensions: dimensions).recordNanoseconds(nanoseconds)
    }
}
