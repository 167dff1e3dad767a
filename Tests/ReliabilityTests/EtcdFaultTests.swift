import Etcd
import Foundation
import StoreTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Errors after which a user retries the same etcd call (the server was down, unreachable or slow).
let retryableEtcdCodes: [EtcdError.Code] = [.unavailable, .connectionFailed, .deadlineExceeded]

/// Whether the fault tests run: they start their own etcd/ZooKeeper binaries, so they need the
/// same installation the shared stores need. They run when a store is configured and the binary
/// is installed — and always under `AUTOCLUSTER_REQUIRE_STORES=1`, where a missing binary fails
/// the test (its server does not start) instead of skipping the whole fault suite.
enum Faults {
    static var enabled: Bool {
        TestStores.required
            || ((TestStores.etcdEndpoints != nil || TestStores.zooKeeperConnect != nil)
                && FileManager.default.isExecutableFile(atPath: "/usr/bin/etcd"))
    }
    static var zooKeeperEnabled: Bool {
        TestStores.required
            || (TestStores.zooKeeperConnect != nil && FileManager.default.fileExists(atPath: "/usr/share/java/zookeeper.jar"))
    }
    /// The slow cluster scenarios run from scripts/faults.sh (AUTOCLUSTER_FAULTS=1).
    static var slowEnabled: Bool { TestStores.environment("AUTOCLUSTER_FAULTS") == "1" }
    /// The skip comments; scripts/allowed-skips.txt allows `slow` (outside the faults part).
    static let slow: Comment = "a slow cluster scenario: scripts/faults.sh (AUTOCLUSTER_FAULTS=1) runs it"
    static let missing: Comment = "needs /usr/bin/etcd and a store configured (scripts/test.sh)"
    static let zooKeeperMissing: Comment = "needs /usr/share/java/zookeeper.jar and ZOOKEEPER_CONNECT (scripts/test.sh)"
}

/// What happened to each of many concurrent calls.
final class Outcomes: Sendable {
    struct Entry: Sendable {
        var index: Int
        var error: (any Error)?
        var elapsed: Duration
        var finishedAt: ContinuousClock.Instant
    }
    private let entries = TestMutex<[Entry]>([])
    func record(_ entry: Entry) { entries.withLock { $0.append(entry) } }
    var all: [Entry] { entries.withLock { $0 } }
    var succeeded: [Int] { all.filter { $0.error == nil }.map(\.index).sorted() }
    var failed: [Entry] { all.filter { $0.error != nil } }

    /// Runs `call(0..<count)` concurrently and SIGKILLs `server` once ten calls are through (so
    /// the others are in flight), restarting it 800 ms later; records each call's outcome.
    static func killDuring(_ count: Int, server: TestServer,
                           _ call: @escaping @Sendable (Int) async throws -> Void) async throws -> Outcomes {
        let outcomes = Outcomes()
        let completed = Locked(0)
        let killed = Locked(false)
        // The kill is sent by the 10th completion itself: a poller task can be scheduled too late
        // (under ThreadSanitizer all 1,000 calls once finished first, and the test proved nothing).
        @Sendable func killOnce() {
            if killed.withLock({ let first = !$0; $0 = true; return first }) { server.kill9() }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<count {
                group.addTask {
                    let (result, elapsed) = await timed { try await call(i) }
                    outcomes.record(.init(index: i, error: result.failureIfAny, elapsed: elapsed, finishedAt: .now))
                    if completed.withLock({ $0 += 1; return $0 }) == 10 { killOnce() }
                }
            }
            group.addTask {
                let deadline = ContinuousClock.now + .seconds(20)
                while completed.value < 10, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(1))
                }
                killOnce()
                try await Task.sleep(for: .milliseconds(800))
                try server.start()
            }
            try await group.waitForAll()
        }
        return outcomes
    }
}

@Suite("etcd faults: SIGKILL, SIGSTOP, leader loss (own servers on ports 28000-28099)",
       .serialized, .enabled(if: Faults.enabled, Faults.missing), .timeLimit(.minutes(5)))
struct EtcdFaultTests {
    static func configuration(_ endpoints: [String], logs: LogCapture? = nil) -> EtcdClient.Configuration {
        var configuration = EtcdClient.Configuration(endpoints: endpoints)
        configuration.timeouts = .init(connect: .seconds(1), request: .seconds(2))
        configuration.retry = .init(maxAttempts: 3, initialBackoff: .milliseconds(50), maxBackoff: .milliseconds(500))
        configuration.keepAlive = .init(interval: .seconds(1), timeout: .seconds(1))
        if let logs { configuration.logger = logs.logger("faults.etcd") }
        return configuration
    }

    /// The longest one call may take with `configuration`: every attempt's connect and request
    /// deadline plus the backoffs, and scheduling slack on a loaded 2-core machine.
    static let callBound: Duration = .seconds(3 * 3 + 2 + 5)

    /// Put `i`'s value: 16 KiB, so the 1,000 puts take long enough for the kill to catch many in flight.
    static func value(_ i: Int) -> [UInt8] {
        Array("value-\(i)-".utf8) + [UInt8](repeating: 0x61, count: 16_384)
    }

    @Test("SIGKILL during 1,000 pipelined puts, then restart: each put succeeded (and is readable) or threw a retryable error in time; the client reconnects by itself")
    func killDuringPipelinedPuts() async throws {
        let directory = try TestServer.makeDirectory("etcd-kill")
        let servers = TestServer.etcdCluster(count: 1, basePort: 28000, directory: directory)
        defer { TestServer.stopAll(servers, removing: directory) }
        let server = servers[0]
        try server.start()
        try await server.waitHealthy()

        let client = try await EtcdClient.connect(Self.configuration([server.endpoint]))
        let prefix = "/kill/\(UUID().uuidString)/"
        let count = 1_000
        let outcomes = try await Outcomes.killDuring(count, server: server) { i in
            _ = try await client.put(prefix + "\(i)", value: Self.value(i))
        }
        try await server.waitHealthy()

        let entries = outcomes.all
        #expect(entries.count == count)
        for entry in entries {
            #expect(entry.elapsed < Self.callBound, "put \(entry.index) took \(entry.elapsed)")
            if let error = entry.error {
                let code = (error as? EtcdError)?.code
                #expect(code.map(retryableEtcdCodes.contains) == true, "put \(entry.index) threw a non-retryable \(error)")
            }
        }
        #expect(!outcomes.failed.isEmpty, "the kill hit calls in flight (else this test proved nothing)")

        // The same client, never reconnected by hand, serves again.
        let recovered = await retryUntil(.seconds(20)) { try await client.put(prefix + "after", value: Array("after".utf8)) }
        #expect(recovered, "the client did not reconnect by itself")
        // Every put that reported success is durable and readable after the restart.
        let stored = try await client.range(prefix: prefix)
        let values = Dictionary(uniqueKeysWithValues: stored.kvs.map { ($0.keyString, $0.value) })
        for i in outcomes.succeeded {
            #expect(values[prefix + "\(i)"] == Self.value(i), "acknowledged put \(i) lost")
        }
        await client.close()
    }

    @Test("SIGSTOP: calls end at their deadline with .deadlineExceeded; after SIGCONT the same client recovers")
    func frozenServer() async throws {
        let directory = try TestServer.makeDirectory("etcd-stop")
        let servers = TestServer.etcdCluster(count: 1, basePort: 28010, directory: directory)
        defer { TestServer.stopAll(servers, removing: directory) }
        let server = servers[0]
        try server.start()
        try await server.waitHealthy()
        var configuration = Self.configuration([server.endpoint])
        configuration.keepAlive = .init(interval: .seconds(30), timeout: .seconds(10))
        let client = try await EtcdClient.connect(configuration)
        try await client.put("/stop/k", value: Array("before".utf8))

        #expect(await server.freeze(), "the server is stopped (state \(String(describing: server.processState)))")
        // A call that times out is not retried (it may have been processed): each ends at its one
        // attempt's deadline.
        let deadline = configuration.timeouts.request
        var frozenErrors: [EtcdError.Code?] = []
        await withTaskGroup(of: (Result<EtcdPutResponse, any Error>, Duration).self) { group in
            for i in 0..<10 {
                group.addTask { await timed { try await client.put("/stop/\(i)", value: [1]) } }
            }
            for await (result, elapsed) in group {
                #expect(elapsed < deadline + timingSlack, "a call outlived its \(deadline) deadline: \(elapsed)")
                #expect(elapsed >= deadline, "it waited for its deadline (\(elapsed))")
                frozenErrors.append((result.failureIfAny as? EtcdError)?.code)
            }
        }
        #expect(frozenErrors.allSatisfy { $0 == .deadlineExceeded }, "\(frozenErrors)")
        let (read, readElapsed) = await timed { try await client.get("/stop/k") }
        #expect((read.failureIfAny as? EtcdError)?.code == .deadlineExceeded)
        #expect(readElapsed >= deadline && readElapsed < deadline + timingSlack, "the get took \(readElapsed)")

        server.signal(SIGCONT)
        let recovered = await retryUntil(.seconds(20)) { _ = try await client.get("/stop/k") }
        #expect(recovered, "the client did not recover after SIGCONT")
        #expect(try await client.get("/stop/k")?.valueString == "before")
        await client.close()
    }

    @Test("3-member cluster, leader SIGKILLed under 8 concurrent writers and a watch: writes fail over, nothing acknowledged is lost, the watch sees every write",
          .enabled(if: Faults.slowEnabled, Faults.slow))
    func leaderLoss() async throws {
        let directory = try TestServer.makeDirectory("etcd-leader")
        let servers = TestServer.etcdCluster(count: 3, basePort: 28020, directory: directory)
        defer { TestServer.stopAll(servers, removing: directory) }
        for server in servers { try server.start() }
        for server in servers { try await server.waitHealthy() }

        let endpoints = servers.map(\.endpoint)
        let client = try await EtcdClient.connect(Self.configuration(endpoints))
        // The leader: the member whose status says it leads.
        var leader: TestServer?
        for server in servers {
            let probe = try await EtcdClient.connect(Self.configuration([server.endpoint]))
            let status = try await probe.status()
            if status.leader == status.header.memberID { leader = server }
            await probe.close()
        }
        let killed = try #require(leader)
        let prefix = "/leader/\(UUID().uuidString)/"
        let start = try await client.put(prefix + "start", value: [0])
        let watcher = try await EtcdClient.connect(Self.configuration(endpoints))
        let seen = Locked<Set<String>>([])
        let watchTask = Task {
            for try await event in watcher.watch(prefix: prefix, fromRevision: start.header.revision + 1) {
                seen.withLock { $0.insert(event.kv.keyString) }
            }
        }

        let outcomes = Outcomes()
        let killAt = ContinuousClock.now + .seconds(1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    var i = 0
                    while ContinuousClock.now < killAt + .seconds(6) {
                        let key = prefix + "\(writer)-\(i)"
                        let (result, elapsed) = await timed { try await client.put(key, value: Array(key.utf8)) }
                        outcomes.record(.init(index: writer * 100_000 + i, error: result.failureIfAny, elapsed: elapsed, finishedAt: .now))
                        i += 1
                    }
                }
            }
            group.addTask {
                try await Task.sleep(until: killAt)
                killed.kill9()
            }
            try await group.waitForAll()
        }

        let entries = outcomes.all
        for entry in entries {
            #expect(entry.elapsed < Self.callBound, "a put took \(entry.elapsed)")
            if let error = entry.error {
                #expect((error as? EtcdError).map { retryableEtcdCodes.contains($0.code) } == true, "\(error)")
            }
        }
        // Failover: writes succeeded well after the leader died.
        let lateSuccesses = entries.filter { $0.error == nil && $0.finishedAt > killAt + .seconds(3) }
        #expect(lateSuccesses.count > 10, "writes did not fail over to the new leader")
        // Nothing acknowledged is lost, and the watch (which may have been on the killed member)
        // delivered every acknowledged write.
        let keys = Set(entries.filter { $0.error == nil }.map { prefix + "\($0.index / 100_000)-\($0.index % 100_000)" })
        let stored = Set(try await client.range(prefix: prefix).kvs.map(\.keyString))
        #expect(keys.isSubset(of: stored), "acknowledged writes lost: \(keys.subtracting(stored).count)")
        let watchedAll = await waitUntil(.seconds(15)) { keys.isSubset(of: seen.withLock { $0 }) }
        #expect(watchedAll, "the watch missed \(keys.subtracting(seen.withLock { $0 }).count) writes")
        watchTask.cancel()
        await watcher.close()
        await client.close()
    }
}

extension Result {
    var failureIfAny: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// Repeats `body` until it succeeds, for at most `timeout`; true when it did.
func retryUntil(_ timeout: Duration, _ body: () async throws -> Void) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        do {
            try await body()
            return true
        } catch {
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
    return false
}

/// Polls `condition` until it holds, for at most `timeout`.
func waitUntil(_ timeout: Duration, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return condition()
}
