import Etcd
import Foundation
import ZooKeeper

/// Runs `count` operations keeping `depth` of them in flight; returns operations per second.
func measure(depth: Int, count: Int, _ operation: @escaping @Sendable () async throws -> Void) async throws -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    if depth <= 1 {
        for _ in 0..<count { try await operation() }
    } else {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var started = 0
            while started < min(depth, count) {
                group.addTask { try await operation() }
                started += 1
            }
            while try await group.next() != nil {
                if started < count {
                    group.addTask { try await operation() }
                    started += 1
                }
            }
        }
    }
    let elapsed = clock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Double(count) / seconds
}

let benchValue = [UInt8](repeating: UInt8(ascii: "v"), count: 64)

func zooKeeperBenchmark(connect: String, operation: String, depth: Int, count: Int) async throws -> Double {
    let client = try await ZooKeeperClient.connect(.init(connectString: connect))
    let path = "/autocluster-bench-swift"
    do {
        _ = try await client.create(path, data: benchValue)
    } catch let error as ZooKeeperError where error.code == .nodeExists {}
    let result: Double
    switch operation {
    case "get":
        result = try await measure(depth: depth, count: count) { _ = try await client.get(path) }
    case "set":
        result = try await measure(depth: depth, count: count) { _ = try await client.set(path, data: benchValue) }
    default:
        throw BenchUsage("zk operation must be get or set")
    }
    await client.close()
    return result
}

func etcdBenchmark(endpoint: String, operation: String, depth: Int, count: Int) async throws -> Double {
    let client = try await EtcdClient.connect(.init(endpoints: [endpoint]))
    let key = "bench-key"
    _ = try await client.put(key, value: benchValue)
    let call: @Sendable () async throws -> Void
    switch operation {
    case "range":
        call = { _ = try await client.get(key) }
    case "put":
        call = { _ = try await client.put(key, value: benchValue) }
    default:
        throw BenchUsage("etcd operation must be range or put")
    }
    let result: Double
    // BENCH_EXECUTOR=loop: the calls run in a task that prefers the client's event loop
    // (EtcdClient.taskExecutor); default: Swift's global executor.
    if ProcessInfo.processInfo.environment["BENCH_EXECUTOR"] == "loop", #available(macOS 15.0, *) {
        result = try await withTaskExecutorPreference(client.taskExecutor) {
            try await measure(depth: depth, count: count, call)
        }
    } else {
        result = try await measure(depth: depth, count: count, call)
    }
    await client.close()
    return result
}

struct BenchUsage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
