import NIOCore

/// A `TaskExecutor` that runs tasks on one NIO event loop: the loop the client's connections
/// use (``EtcdClient/taskExecutor``).
///
/// A job is handed to the loop with `execute` and run there synchronously; from a task that
/// prefers this executor, a call starts on the loop inline and its answer resumes the task on
/// the same thread, so a call makes no thread hand-off.
@available(macOS 15.0, *)
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
