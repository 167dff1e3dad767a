// autocluster benchmarks — run by scripts/bench.sh, which also measures the references
// (h2load, Benchmarks/zk-ref, the Python peers) in the same run and prints the ratios.
// Each subcommand prints "key=value" pairs on one line.
//
//   AutoClusterBench zk HOST:PORT get|set DEPTH COUNT
//   AutoClusterBench etcd http://HOST:PORT range|put DEPTH COUNT
//   AutoClusterBench etcd-watchers http://HOST:PORT COUNT
//   AutoClusterBench zk-watches HOST:PORT COUNT
//   AutoClusterBench growth etcd|zookeeper ADDRESS TOTAL
//   AutoClusterBench join STORE-URL LISTED PROBE-TIMEOUT-MS
//   AutoClusterBench contention STORE-URL JOINERS
//       (BENCH_BACKOFF=LATENCY-MULTIPLE,MULTIPLIER,MAXIMUM-MS,MAXIMUM-GROWTH overrides the
//       joiners' NodeListStore.Backoff, for comparing settings: e.g. 8,2,2000,8 = the defaults)

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging

@main
struct AutoClusterBench {
    /// A synchronous main that blocks on a semaphore: an `async` main parks the main thread in
    /// libdispatch's `dispatch_main`, where valgrind 3.19 crashes (scripts/profile.sh runs
    /// this binary under callgrind).
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // Results go to stdout, one line each; logs (warnings and up) to stderr.
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let done = DispatchSemaphore(value: 0)
        // Detached: a plain Task would inherit the main actor, whose queue nobody drains here.
        Task.detached {
            do {
                try await run(arguments)
            } catch {
                FileHandle.standardError.write(Data("AutoClusterBench: \(error)\n".utf8))
                exit(1)
            }
            done.signal()
        }
        done.wait()
    }

    static func run(_ arguments: [String]) async throws {
        func int(_ index: Int) throws -> Int {
            guard index < arguments.count, let value = Int(arguments[index]) else {
                throw BenchUsage("argument \(index + 1) must be a number")
            }
            return value
        }
        func string(_ index: Int) throws -> String {
            guard index < arguments.count else { throw BenchUsage("missing argument \(index + 1)") }
            return arguments[index]
        }
        switch arguments.first {
        case "zk":
            let rate = try await zooKeeperBenchmark(connect: string(1), operation: string(2), depth: int(3), count: int(4))
            print("ops_per_sec=\(Int(rate))")
        case "etcd":
            let rate = try await etcdBenchmark(endpoint: string(1), operation: string(2), depth: int(3), count: int(4))
            print("ops_per_sec=\(Int(rate))")
        case "etcd-watchers":
            let (before, during) = try await etcdWatcherMemory(endpoint: string(1), count: int(2))
            print("rss_before=\(before) rss_with_watchers=\(during)")
        case "zk-watches":
            let (before, during) = try await zooKeeperWatchMemory(connect: string(1), count: int(2))
            print("rss_before=\(before) rss_with_watches=\(during)")
        case "growth":
            let samples = try await requestGrowth(store: string(1), address: string(2), total: int(3))
            print("rss_samples=\(samples.map(String.init).joined(separator: ","))")
        case "join":
            try await joinBenchmark(storeURL: string(1), listed: int(2), probeTimeoutMilliseconds: int(3))
        case "contention":
            try await contentionBenchmark(storeURL: string(1), joiners: int(2))
        default:
            throw BenchUsage("usage: see the header of Benchmarks/AutoClusterBench/main.swift")
        }
    }
}
