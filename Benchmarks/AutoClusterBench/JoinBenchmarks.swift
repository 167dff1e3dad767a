#if canImport(Glibc)
import Glibc
#endif
import Foundation
import AutoCluster
import NodeList

/// Loopback sockets that stand for listed nodes: alive (listening), closed (bound, not
/// listening: a connection is refused at once) or black-holed (a listener whose accept queue
/// is full, so a SYN is dropped and the probe waits for its timeout).
final class LoopbackNodes {
    private(set) var descriptors: [Int32] = []

    deinit { for fd in descriptors { close(fd) } }

    private func boundSocket() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchUsage("socket: errno \(errno)") }
        descriptors.append(fd)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw BenchUsage("bind: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    func alive() throws -> String {
        let (fd, port) = try boundSocket()
        guard listen(fd, 128) == 0 else { throw BenchUsage("listen: errno \(errno)") }
        return "127.0.0.1:\(port)"
    }

    func closed() throws -> String {
        let (_, port) = try boundSocket()
        return "127.0.0.1:\(port)"
    }

    func blackHoled() throws -> String {
        let (fd, port) = try boundSocket()
        guard listen(fd, 0) == 0 else { throw BenchUsage("listen: errno \(errno)") }
        // Fill the accept queue: connect until a connection no longer completes at once.
        for _ in 0..<8 {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            descriptors.append(client)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            var pollDescriptor = pollfd(fd: client, events: Int16(POLLOUT), revents: 0)
            if poll(&pollDescriptor, 1, 100) == 0 { break }  // did not complete: the queue is full
        }
        return "127.0.0.1:\(port)"
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// `join` with `listed` nodes already in the list, half of them dead (half of those refused,
/// half black-holed). Prints the join's wall time, the store round trip and the probe timeout,
/// and the ratio of the wall time to the target (2 round trips + 1.2 × probe timeout).
func joinBenchmark(storeURL: String, listed: Int, probeTimeoutMilliseconds: Int) async throws {
    let url = try StoreURL(parsing: storeURL)
    let connection = try await StoreConnection.open(url)
    let key = "/autocluster-bench/join-\(UUID().uuidString.lowercased())"
    let sockets = LoopbackNodes()
    let long = Date(timeIntervalSinceNow: -3600)

    // The list as it stands before the join: written through joins that probe nobody.
    let setup = NodeListStore(backend: connection.backend, key: key, probe: NoProbe())
    var dead = 0
    for index in 0..<listed {
        let address: String
        if index % 2 == 0 {
            address = try sockets.alive()
        } else {
            address = dead % 2 == 0 ? try sockets.closed() : try sockets.blackHoled()
            dead += 1
        }
        try await setup.join(ClusterNode(name: "listed-\(index)", address: address, joinedAt: long))
    }

    // One store round trip: the mean of 20 reads of the list.
    let clock = ContinuousClock()
    var start = clock.now
    for _ in 0..<20 { _ = try await setup.nodes() }
    let roundTrip = seconds(clock.now - start) / 20

    let timeout = Duration.milliseconds(probeTimeoutMilliseconds)
    var configuration = NodeListStore.Configuration()
    configuration.probeTimeout = timeout
    configuration.sweepGracePeriod = .zero
    let store = NodeListStore(backend: connection.backend, key: key, probe: TCPProbe(timeout: timeout), configuration: configuration)
    let me = ClusterNode(name: "joiner", address: try sockets.alive())
    start = clock.now
    let outcome = try await store.join(me)
    let wall = seconds(clock.now - start)
    let target = 2 * roundTrip + 1.2 * seconds(timeout)
    // None of the listed nodes votes (they are bare sockets), so a lone joiner removes nothing:
    // the sweep rules need a majority of the list to agree.
    let expectedSwept = 0
    print(String(
        format: "join %.1f ms; store round trip %.2f ms; probe timeout %.0f ms; join / (2 round trips + 1.2 × timeout) = %.2f (target ≤ 1); swept %d (expected %d: no majority has voted); CAS attempts %d",
        wall * 1000, roundTrip * 1000, seconds(timeout) * 1000, wall / target,
        outcome.swept.count, expectedSwept, outcome.attempts))
    _ = try? await store.leave(me)
    await connection.close()
}

/// `joiners` nodes join one empty list at once, each over its own connection. Prints whether
/// all are present exactly once, the time until the list holds them all, and CAS conflicts per join.
func contentionBenchmark(storeURL: String, joiners: Int) async throws {
    let url = try StoreURL(parsing: storeURL)
    let key = "/autocluster-bench/contention-\(UUID().uuidString.lowercased())"
    var connections: [StoreConnection] = []
    for _ in 0..<joiners { connections.append(try await StoreConnection.open(url)) }
    var configuration = NodeListStore.Configuration()
    if let knobs = ProcessInfo.processInfo.environment["BENCH_BACKOFF"]?.split(separator: ",").compactMap({ Double($0) }), knobs.count == 4 {
        configuration.backoff = .init(maximum: .milliseconds(Int64(knobs[2])), multiplier: knobs[1], latencyMultiple: knobs[0], maximumGrowth: knobs[3])
    }
    let joinerConfiguration = configuration
    let clock = ContinuousClock()
    let start = clock.now
    let attempts = try await withThrowingTaskGroup(of: Int.self) { group -> [Int] in
        for (index, connection) in connections.enumerated() {
            group.addTask {
                let store = NodeListStore(backend: connection.backend, key: key, probe: NoProbe(), configuration: joinerConfiguration)
                return try await store.join(ClusterNode(name: "joiner-\(index)", address: "127.0.0.1:\(20000 + index)")).attempts
            }
        }
        var all: [Int] = []
        for try await value in group { all.append(value) }
        return all
    }
    let wall = seconds(clock.now - start)
    let nodes = try await NodeListStore(backend: connections[0].backend, key: key, probe: NoProbe()).nodes()
    let names = Set(nodes.map(\.name))
    let conflicts = Double(attempts.reduce(0, +) - attempts.count) / Double(joiners)
    print(String(
        format: "%d of %d present%@, all listed after %.0f ms, %.2f CAS conflicts per join (max attempts %d)",
        names.count, joiners, nodes.count == names.count ? "" : " (DUPLICATES)", wall * 1000, conflicts, attempts.max() ?? 0))
    for connection in connections { await connection.close() }
}
