/// What each store provides to the recipes. Package-internal: users pick a store with
/// ``CoordinationStore/etcd(_:configuration:)``, ``CoordinationStore/zooKeeper(_:configuration:)``
/// or ``CoordinationStore/consul(_:configuration:)``.
package protocol CoordinationBackend: Sendable {
    /// `etcd`, `ZooKeeper` or `Consul`, for messages.
    var storeName: String { get }
    /// Joins the queue of the lock at `key` with `value` (for elections: the candidate's value).
    /// The contender's session is kept alive, and its loss reported, until `withdraw()`.
    func contend(key: String, value: [UInt8]) async throws -> any Contender
    /// Creates the presence entry `name` of `group`, bound to a session of its own; returns it
    /// with the entry's creation token.
    /// - Throws: ``CoordinationError`` `.nameTaken` when a live entry of that name exists.
    func register(group: String, name: String, value: [UInt8]) async throws -> (contender: any Contender, token: UInt64)
    /// The current leader of the election at `key`, then after every change (`nil`: none).
    func leaders(key: String) -> AsyncThrowingStream<Leader?, any Error>
    /// The live entries of `group`, sorted by name.
    func members(group: String) async throws -> [PresenceMember]
    /// The live entries of `group` now and after every change.
    func memberChanges(group: String) -> AsyncThrowingStream<[PresenceMember], any Error>
    /// `error`, when it is the store client's, as its one-line summary (else nil).
    func summary(of error: any Error) -> String?
}

/// One place in a lock's queue (or one presence entry) and the session it is bound to.
package protocol Contender: Sendable {
    /// Fired by the contender's monitoring the moment its session or key is lost.
    var signal: LossSignal { get }
    /// Waits until this contender holds the lock; returns the fencing token. Cancellable.
    func waitForTurn() async throws -> UInt64
    /// Checks once: the fencing token when this contender holds the lock now, else `nil`.
    func tryTurn() async throws -> UInt64?
    /// Leaves the queue (deletes the key or node, ends the session). Idempotent.
    func withdraw() async throws
}

extension AsyncThrowingStream where Failure == any Error {
    /// A stream fed by `body` in a task that is cancelled when the consumer goes away.
    package static func producing(
        _ body: @escaping @Sendable (AsyncThrowingStream<Element, any Error>.Continuation) async throws -> Void
    ) -> AsyncThrowingStream<Element, any Error> where Element: Sendable {
        let (stream, continuation) = AsyncThrowingStream<Element, any Error>.makeStream(bufferingPolicy: .bufferingNewest(64))
        let task = Task {
            do {
                try await body(continuation)
                continuation.finish()
            } catch {
                if Task.isCancelled { continuation.finish() } else { continuation.finish(throwing: error) }
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
