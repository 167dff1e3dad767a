import ArgumentParser
import AutoCluster
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// `autocluster lock KEY -- COMMAND…`, as `etcdctl lock`.
struct Lock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hold a lock while a command runs; kill the command if the lock is lost.",
        discussion: """
            Waits for the lock on KEY, then runs COMMAND with AUTOCLUSTER_LOCK_TOKEN set to the lock's \
            fencing token, and exits with its status. If the lock is lost (session expired, lease \
            revoked, key deleted) the command is sent SIGTERM, then SIGKILL after --kill-grace, and \
            the exit status is 1. Without COMMAND it prints the token and holds the lock until \
            SIGINT/SIGTERM. SIGINT/SIGTERM are forwarded to the command; the lock is released when it exits.
            """)

    @Argument(help: "The lock's key, e.g. /locks/nightly-report.")
    var key: String

    @Option(help: "Give up waiting for the lock after this long (e.g. 30s); default: wait.")
    var timeout: String?

    @Option(help: "After the lock is lost, how long the command has between SIGTERM and SIGKILL.")
    var killGrace: String = "2s"

    @OptionGroup var options: CoordinationOptions

    @Argument(parsing: .postTerminator, help: "The command to run while holding the lock (after --).")
    var command: [String] = []

    func run() async throws {
        var status: Int32 = 0
        try await runReportingErrors {
            let deadline = try timeout.map { ContinuousClock.now + (try parseDuration($0, flag: "--timeout")) }
            let grace = try parseDuration(killGrace, flag: "--kill-grace")
            status = try await options.withCoordination { store in
                let service = LockCommandService(lock: store.lock(key), deadline: deadline, command: command, grace: grace)
                let group = ServiceGroup(configuration: .init(
                    services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: options.logger("autocluster.lock")))
                try await group.run()
                if let failure = service.failure.withLockedValue({ $0 }) { throw failure }
                return service.outcome.withLockedValue { $0 }
            }
        }
        if status != 0 { throw ExitCode(status) }
    }
}

/// Acquires, runs the command (or holds), releases.
struct LockCommandService: Service {
    let lock: DistributedLock
    let deadline: ContinuousClock.Instant?
    let command: [String]
    let grace: Duration
    let outcome = NIOLockedValueBox<Int32>(0)
    /// What ended the service, reported by the command after the group has stopped (a service
    /// that throws would end the group with a ServiceGroupError instead of this one-line error).
    let failure = NIOLockedValueBox<(any Error)?>(nil)

    func run() async throws {
        do {
            try await acquireAndRun()
        } catch is CancellationError {
            failure.withLockedValue { $0 = CancellationError() }
        } catch {
            failure.withLockedValue { $0 = error }
        }
    }

    private func acquireAndRun() async throws {
        let held: HeldLock
        do {
            held = try await cancelWhenGracefulShutdown { try await lock.acquire(deadline: deadline) }
        } catch let error as CoordinationError where error.code == .cancelled {
            throw CancellationError()
        }
        do {
            try await hold(held)
        } catch {
            try? await held.release()
            throw error
        }
    }

    private func hold(_ held: HeldLock) async throws {
        guard !command.isEmpty else {
            FileHandleOutput.standardOutput("\(lock.key) token \(held.token)\n")
            let reason = await cancelWhenGracefulShutdown { await held.lost() }
            try? await held.release()
            if let reason { throw CoordinationError.lostLock(reason, key: lock.key) }
            return
        }
        let child = try ChildProcess.spawn(command, environment: ["AUTOCLUSTER_LOCK_TOKEN": "\(held.token)"])
        enum Ending: Sendable { case exited(Int32), lost(LockLossReason), shutdown }
        let ending: Ending = await withTaskGroup(of: Ending?.self) { group in
            group.addTask { .exited(await child.wait()) }
            group.addTask { await held.lost().map { .lost($0) } }
            group.addTask {
                try? await gracefulShutdown()
                return Task.isCancelled ? nil : .shutdown
            }
            var first: Ending?
            while first == nil, let next = await group.next() { first = next }
            group.cancelAll()
            return first ?? .shutdown
        }
        switch ending {
        case .exited(let status):
            outcome.withLockedValue { $0 = status }
            try? await held.release()
        case .shutdown:
            child.signal(SIGTERM)
            let status = await child.wait()
            outcome.withLockedValue { $0 = status }
            try? await held.release()
        case .lost(let reason):
            child.signal(SIGTERM)
            let exited = await withTaskGroup(of: Bool.self) { group in
                group.addTask { _ = await child.wait(); return true }
                group.addTask { try? await Task.sleep(for: grace); return false }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            if !exited {
                child.signal(SIGKILL)
                _ = await child.wait()
            }
            try? await held.release()
            throw CoordinationError.lostLock(reason, key: lock.key)
        }
    }
}

extension CoordinationError {
    static func lostLock(_ reason: LockLossReason, key: String) -> CoordinationError {
        CoordinationError(code: .lockLost, message: "the lock on \(key) was lost (\(reason)) — the command was stopped", reason: reason)
    }
}

/// A child process started with posix_spawnp, reaped with waitpid.
final class ChildProcess: Sendable {
    let pid: pid_t

    private init(pid: pid_t) { self.pid = pid }

    static func spawn(_ arguments: [String], environment extra: [String: String]) throws -> ChildProcess {
        var environment = ProcessInfo.processInfo.environment
        for (name, value) in extra { environment[name] = value }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, arguments[0], nil, nil, argv, envp)
        guard rc == 0 else {
            throw ValidationError("cannot run \(arguments[0]): \(String(cString: strerror(rc))) — is it on PATH?")
        }
        return ChildProcess(pid: pid)
    }

    func signal(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the exit (polling, so it stays cancellable); the shell-style status:
    /// the exit code, or 128 + the signal that ended it.
    func wait() async -> Int32 {
        while true {
            var status: Int32 = 0
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid {
                let signal = status & 0x7f
                return signal == 0 ? (status >> 8) & 0xff : 128 + signal
            }
            if rc < 0 { return 1 }
            do {
                try await Task.sleep(for: .milliseconds(20))
            } catch {
                return -1
            }
        }
    }
}
