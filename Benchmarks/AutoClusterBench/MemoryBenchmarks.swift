#if canImport(Glibc)
import Glibc
#endif
import Etcd
import ZooKeeper

/// Resident set size of this process in bytes (second field of /proc/self/statm, in pages).
func residentBytes() -> Int {
    guard let file = fopen("/proc/self/statm", "r") else { return -1 }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 256)
    guard fgets(&buffer, Int32(buffer.count), file) != nil else { return -1 }
    let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let fields = line.split(whereSeparator: { $0 == " " || $0 == "\n" })
    guard fields.count >= 2, let pages = Int(fields[1]) else { return -1 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// RSS with `count` etcd watchers open on one client (each an active server-side watch).
func etcdWatcherMemory(endpoint: String, count: Int) async throws -> (before: Int, after: Int) {
    let client = try await EtcdClient.connect(.init(endpoints: [endpoint]))
    _ = try await client.put("bench-watch-warmup", value: benchValue)
    let before = residentBytes()
    let rss = try await withThrowingTaskGroup(of: Void.self) { group -> Int in
        for index in 0..<count {
            let watch = client.watch("bench-watch-\(index)")
            group.addTask {
                for try await _ in watch { break }
            }
        }
        // Give the watch streams time to be created on the server, then trigger one event each.
        try await Task.sleep(for: .seconds(5))
        let during = residentBytes()
        for index in 0..<count {
            _ = try await client.put("bench-watch-\(index)", value: benchValue)
        }
        try await group.waitForAll()
        return during
    }
    await client.close()
    return (before, rss)
}

/// RSS with `count` ZooKeeper watches open on one client.
func zooKeeperWatchMemory(connect: String, count: Int) async throws -> (before: Int, after: Int) {
    let client = try await ZooKeeperClient.connect(.init(connectString: connect))
    let root = "/autocluster-bench-watches"
    do { _ = try await client.create(root) } catch let error as ZooKeeperError where error.code == .nodeExists {}
    for index in 0..<count {
        do { _ = try await client.create("\(root)/n\(index)", data: benchValue) }
        catch let error as ZooKeeperError where error.code == .nodeExists {}
    }
    let before = residentBytes()
    let rss = try await withThrowingTaskGroup(of: Void.self) { group -> Int in
        for index in 0..<count {
            let watch = client.watch("\(root)/n\(index)")
            group.addTask {
                var seen = 0
                for try await _ in watch {
                    seen += 1
                    if seen >= 2 { break }  // the initial value, then the change
                }
            }
        }
        try await Task.sleep(for: .seconds(5))
        let during = residentBytes()
        for index in 0..<count {
            _ = try await client.set("\(root)/n\(index)", data: benchValue)
        }
        try await group.waitForAll()
        return during
    }
    await client.close()
    return (before, rss)
}

/// RSS after each tenth of `total` sequential+pipelined requests: flat means no leak.
func requestGrowth(store: String, address: String, total: Int) async throws -> [Int] {
    var samples: [Int] = [residentBytes()]
    let step = max(total / 10, 1)
    switch store {
    case "etcd":
        let client = try await EtcdClient.connect(.init(endpoints: [address]))
        _ = try await client.put("bench-growth", value: benchValue)
        for _ in 0..<10 {
            _ = try await measure(depth: 64, count: step) { _ = try await client.get("bench-growth") }
            samples.append(residentBytes())
        }
        await client.close()
    case "zookeeper":
        var configuration = ZooKeeperClient.Configuration(connectString: address)
        if let text = getenv("BENCH_ZK_OPERATION_TIMEOUT_MS"), let ms = Int(String(cString: text)) {
            configuration.operationTimeout = .milliseconds(ms)
        }
        let client = try await ZooKeeperClient.connect(configuration)
        do { _ = try await client.create("/autocluster-bench-growth", data: benchValue) }
        catch let error as ZooKeeperError where error.code == .nodeExists {}
        for _ in 0..<10 {
            _ = try await measure(depth: 64, count: step) { _ = try await client.get("/autocluster-bench-growth") }
            samples.append(residentBytes())
        }
        await client.close()
    default:
        throw BenchUsage("growth store must be etcd or zookeeper")
    }
    return samples
}
