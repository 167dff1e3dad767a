/// The background work of one client, as one task tree the client owns.
///
/// The tree is started by `ZooKeeperClient.connect` and ended by `close()` (or the client's
/// `deinit`): its jobs — the deadline sweeper, watch re-reads, re-opening an expired session —
/// are child tasks of one root task, so none outlives the client and a reader finds them all
/// here. `close()` cancels the tree and returns once every job has ended; jobs submitted after
/// that are dropped. (Closing the C handle itself, which blocks, happens on a thread of its own:
/// see `ZooKeeperHandle.closeOnThread()`.)
final class BackgroundWork: Sendable {
    typealias Job = @Sendable () async -> Void

    private let jobs: AsyncStream<Job>.Continuation
    private let root: Task<Void, Never>

    init() {
        let (stream, jobs) = AsyncStream<Job>.makeStream()
        self.jobs = jobs
        root = Task {
            await withDiscardingTaskGroup { group in
                // Ends when `shutdown` finishes the stream or cancels this task; the group then
                // waits for the running jobs, cancelled by the root's cancellation.
                for await job in stream {
                    group.addTask(operation: job)
                }
                group.cancelAll()
            }
        }
    }

    /// Runs `job` as a child of the tree (it should check for cancellation when it waits); a
    /// job submitted after shutdown is dropped.
    func run(_ job: @escaping Job) {
        jobs.yield(job)
    }

    /// Cancels every job and waits until all have ended.
    func shutdown() async {
        jobs.finish()
        root.cancel()
        await root.value
    }

    /// Cancels every job without waiting (for a client's `deinit`).
    func shutdownDetached() {
        jobs.finish()
        root.cancel()
    }
}
