import Etcd
import Foundation
import Logging
import NIOConcurrencyHelpers
import StoreTestSupport
import Testing

/// Tests that compact, kill or restart etcd: each uses members it starts itself, on its own
/// ports (23850–23899), so the shared stores and the other suites are never disturbed.
@Suite("EtcdClient with etcd servers the test controls", .serialized, .enabled(if: EtcdTest.enabled))
struct EtcdServerControlTests {
    static func client(_ endpoints: [String]) async throws -> EtcdClient {
        var configuration = EtcdClient.Configuration(endpoints: endpoints)
        configuration.timeouts = .init(connect: .seconds(2), request: .seconds(5))
        configuration.retry = .init(maxAttempts: 12, initialBackoff: .milliseconds(100), maxBackoff: .seconds(1))
        configuration.keepAlive = .init(interval: .seconds(1), timeout: .seconds(2))
        return try await EtcdClient.connect(configuration)
    }

    @Test("a read or watch at a compacted revision fails with .compacted carrying etcd's message and the compact revision")
    func compaction() async throws {
        let server = try await PrivateEtcd(count: 1, basePort: 29400)
        defer { server.stop() }
        let etcd = try await Self.client(server.endpoints)
        defer { Task { await etcd.close() } }
        let r1 = try await etcd.put("k", value: "1".bytes).header.revision
        try await etcd.put("k", value: "2".bytes)
        let r3 = try await etcd.put("k", value: "3".bytes).header.revision
        try await etcd.compact(revision: r3, physical: true)

        var old = EtcdRangeRequest(key: "k")
        old.revision = r1
        let read = await #expect(throws: EtcdError.self) { _ = try await etcd.range(old) }
        #expect(read?.code == .compacted)
        #expect(read?.grpcStatus == 11)
        #expect(read?.serverMessage?.contains("required revision has been compacted") == true)
        #expect(read?.endpoint == server.endpoints[0])

        let watched = await #expect(throws: EtcdError.self) { _ = try await collect(etcd.watch("k", fromRevision: r1), count: 3) }
        #expect(watched?.code == .compacted)
        #expect(watched?.compactRevision == r3)

        let again = await #expect(throws: EtcdError.self) { try await etcd.compact(revision: r1) }
        #expect(again?.code == .compacted)
        // The current value is still readable, and a watch from the compact revision works.
        #expect(try await etcd.get("k")?.value == "3".bytes)
        let events = try await collect(etcd.watch("k", fromRevision: r3), count: 1)
        #expect(events.first?.kv.value == "3".bytes)
    }

    @Test("a watch resumes after its member restarts, without losing or repeating events")
    func watchResumesAfterRestart() async throws {
        let server = try await PrivateEtcd(count: 1, basePort: 29410)
        defer { server.stop() }
        let etcd = try await Self.client(server.endpoints)
        defer { Task { await etcd.close() } }
        let start = try await etcd.put("w/0", value: "0".bytes).header.revision
        let watcher = Task { try await collect(etcd.watch(prefix: "w/", fromRevision: start), count: 11, timeout: .seconds(90)) }
        for i in 1...5 { try await etcd.put("w/\(i)", value: "\(i)".bytes) }
        try await Task.sleep(for: .milliseconds(500))
        server.kill(0)
        try await Task.sleep(for: .milliseconds(500))
        try server.start(0)
        try await server.waitHealthy(0)
        for i in 6...10 { try await etcd.put("w/\(i)", value: "\(i)".bytes) }
        let events = try await watcher.value
        #expect(events.map(\.kv.valueString) == (0...10).map { "\($0)" })
        let revisions = events.map(\.kv.modRevision)
        #expect(revisions == revisions.sorted() && Set(revisions).count == revisions.count)
    }

    @Test("killing the leader of a 3-member cluster: operations continue on the others, and a watch on a killed member fails over without losing events")
    func leaderAndMemberKill() async throws {
        let cluster = try await PrivateEtcd(count: 3, basePort: 29420)
        defer { cluster.stop() }
        // A client given one member learns the others from the member list.
        let probe = try await Self.client([cluster.endpoints[0]])
        #expect(Set(try await probe.syncEndpoints()) == Set(cluster.endpoints))
        #expect(Set(probe.endpoints) == Set(cluster.endpoints))
        #expect(probe.currentEndpoint == cluster.endpoints[0])
        let members = try await probe.memberList()
        let leaderID = try await probe.status().leader
        await probe.close()
        func index(of id: UInt64) throws -> Int {
            let urls = try #require(members.first { $0.id == id }).clientURLs
            return try #require(cluster.endpoints.firstIndex { urls.contains($0) })
        }
        let leader = try index(of: leaderID)
        let followers = (0..<3).filter { $0 != leader }
        let watched = followers[0]   // the watcher's member, killed first
        let writerMember = followers[1]

        // A watcher connected to `watched`; a writer connected to the other follower.
        let watchClient = try await Self.client([cluster.endpoints[watched]] + cluster.endpoints.enumerated().filter { $0.offset != watched }.map(\.element))
        defer { Task { await watchClient.close() } }
        #expect(watchClient.currentEndpoint == cluster.endpoints[watched])
        let writer = try await Self.client([cluster.endpoints[writerMember], cluster.endpoints[leader], cluster.endpoints[watched]])
        defer { Task { await writer.close() } }

        let start = try await writer.put("f/000", value: "0".bytes).header.revision
        let count = 40
        let watcher = Task { try await collect(watchClient.watch(prefix: "f/", fromRevision: start), count: count, timeout: .seconds(90)) }
        for i in 1..<count {
            if i == 15 { cluster.kill(watched) }
            if i == 25 {
                try cluster.start(watched)
                cluster.kill(leader)
                // A linearizable read right after the leader died: retried until a new leader serves it.
                #expect(try await writer.get("f/024")?.valueString == "24")
                // Writes are not retried when they might have been applied, so wait for the new leader.
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline {
                    if let status = try? await writer.status(), status.leader != 0, status.leader != leaderID { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            try await writer.put(String(format: "f/%03d", i), value: "\(i)".bytes)
            try await Task.sleep(for: .milliseconds(30))
        }
        let events = try await watcher.value
        #expect(events.map(\.kv.valueString) == (0..<count).map { "\($0)" })

        // With the old leader dead, reads and writes go on (a new leader was elected).
        let value = try await writer.get("f/039")
        #expect(value?.valueString == "39")
        let status = try await writer.status()
        #expect(status.leader != 0 && status.leader != leaderID)
    }
}

@Suite("EtcdClient when etcd cannot answer", .serialized, .enabled(if: EtcdTest.enabled))
struct EtcdNoQuorumTests {
    @Test("without quorum calls end at their deadline, cancellation ends a call at once, and with every member dead nothing hangs")
    func noQuorum() async throws {
        let cluster = try await PrivateEtcd(count: 3, basePort: 29480)
        defer { cluster.stop() }
        var configuration = EtcdClient.Configuration(endpoints: [cluster.endpoints[0]])
        configuration.timeouts = .init(connect: .seconds(1), request: .seconds(1))
        configuration.retry = .init(maxAttempts: 2, initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(200))
        let etcd = try await EtcdClient.connect(configuration)
        try await etcd.put("q/k", value: [1])
        let watch = etcd.watch("q/k")
        cluster.kill(1)
        cluster.kill(2)

        var start = ContinuousClock.now
        let write = await #expect(throws: EtcdError.self) { try await etcd.put("q/k", value: [2]) }
        #expect(write?.code == .deadlineExceeded || write?.code == .unavailable, "\(String(describing: write))")
        #expect(ContinuousClock.now - start < .seconds(8))

        start = ContinuousClock.now
        let read = await #expect(throws: EtcdError.self) { _ = try await etcd.get("q/k") }
        #expect(read?.code == .deadlineExceeded || read?.code == .unavailable, "\(String(describing: read))")
        #expect(ContinuousClock.now - start < .seconds(8))

        // Cancelling the task of a pending call ends it promptly with .cancelled.
        var relaxed = configuration
        relaxed.timeouts.request = .seconds(30)
        relaxed.retry = .init(maxAttempts: 1000, initialBackoff: .milliseconds(200), maxBackoff: .milliseconds(200))
        let patient = try await EtcdClient.connect(relaxed)
        let call = Task { try await patient.put("q/k", value: [3]) }
        try await Task.sleep(for: .milliseconds(300))
        start = ContinuousClock.now
        call.cancel()
        let cancelled = await #expect(throws: EtcdError.self) { _ = try await call.value }
        #expect(cancelled?.code == .cancelled, "\(String(describing: cancelled))")
        #expect(ContinuousClock.now - start < .seconds(2))
        // The connection survived the RST_STREAM: the member still answers Status.
        #expect(try await patient.status().version.hasPrefix("3."))

        // A pending call is ended by close() with .closed.
        let pending = Task { try await patient.put("q/k", value: [4]) }
        try await Task.sleep(for: .milliseconds(300))
        start = ContinuousClock.now
        await patient.close()
        let closed = await #expect(throws: EtcdError.self) { _ = try await pending.value }
        #expect(closed?.code == .closed)
        #expect(ContinuousClock.now - start < .seconds(2))

        // Every member dead: calls fail fast; close() ends the watch.
        cluster.kill(0)
        start = ContinuousClock.now
        let dead = await #expect(throws: EtcdError.self) { _ = try await etcd.get("q/k") }
        #expect(dead?.code == .connectionFailed || dead?.code == .unavailable)
        #expect(ContinuousClock.now - start < .seconds(8))
        let watching = Task { try await collect(watch, count: 1, timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(300))
        await etcd.close()
        let ended = await #expect(throws: EtcdError.self) { _ = try await watching.value }
        #expect(ended?.code == .closed)
    }
}

/// What the server sees of the client's streams, read from etcd's Prometheus metrics on a
/// server of the test's own (so no other suite's watchers are counted).
@Suite("EtcdClient streams as etcd sees them", .serialized, .enabled(if: EtcdTest.enabled))
struct EtcdStreamSharingTests {
    static func metric(_ name: String, port: Int) throws -> Double? {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-fsS", "--max-time", "3", "http://127.0.0.1:\(port)/metrics"]
        let pipe = Pipe()
        curl.standardOutput = pipe
        curl.standardError = FileHandle.nullDevice
        try curl.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    static func eventually(_ name: String, port: Int, equals expected: Double) async throws -> Double? {
        var value: Double?
        for _ in 0..<50 {
            value = try metric(name, port: port)
            if value == expected { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        return value
    }

    @Test("all watchers share one Watch stream; ending a watch cancels its watcher on the server; leases share one keep-alive stream")
    func sharing() async throws {
        let server = try await PrivateEtcd(count: 1, basePort: 29490)
        defer { server.stop() }
        let port = server.members[0].clientPort
        let etcd = try await EtcdClient.connect(.init(endpoints: server.endpoints))
        let consumers = (0..<3).map { i in
            Task { try await collect(etcd.watch("s/\(i)"), count: 1, timeout: .seconds(60)) }
        }
        #expect(try await Self.eventually("etcd_debugging_mvcc_watcher_total", port: port, equals: 3) == 3)
        #expect(try Self.metric("etcd_debugging_mvcc_watch_stream_total", port: port) == 1)

        consumers[0].cancel()
        #expect(try await Self.eventually("etcd_debugging_mvcc_watcher_total", port: port, equals: 2) == 2)
        try await etcd.put("s/1", value: [1])   // consumer 1 gets its event and ends its watch
        #expect(try await consumers[1].value.first?.kv.value == [1])
        #expect(try await Self.eventually("etcd_debugging_mvcc_watcher_total", port: port, equals: 1) == 1)
        #expect(try Self.metric("etcd_debugging_mvcc_watch_stream_total", port: port) == 1)

        let leases = try await [etcd.grantLease(ttl: .seconds(30)), etcd.grantLease(ttl: .seconds(30)),
                                etcd.grantLease(ttl: .seconds(30))]
        let keepAlives = leases.map { lease in
            Task { () -> EtcdLeaseKeepAliveEvent? in
                for try await event in etcd.keepAlive(lease.id) { return event }
                return nil
            }
        }
        for keepAlive in keepAlives { #expect(try await keepAlive.value == .renewed(ttl: .seconds(30))) }
        let keepAliveStreams = #"grpc_server_started_total{grpc_method="LeaseKeepAlive",grpc_service="etcdserverpb.Lease",grpc_type="bidi_stream"}"#
        #expect(try Self.metric(keepAliveStreams, port: port) == 1)

        await etcd.close()
        #expect(try await Self.eventually("etcd_debugging_mvcc_watcher_total", port: port, equals: 0) == 0)
        #expect(try await Self.eventually("etcd_debugging_mvcc_watch_stream_total", port: port, equals: 0) == 0)
    }
}

@Suite("EtcdClient when a member shuts down gracefully", .serialized, .enabled(if: EtcdTest.enabled))
struct EtcdGracefulShutdownTests {
    @Test("a member stopping (GOAWAY) under load: every read succeeds elsewhere, writes succeed or fail retryably, none hangs")
    func gracefulShutdown() async throws {
        let cluster = try await PrivateEtcd(count: 3, basePort: 29470)
        defer { cluster.stop() }
        var configuration = EtcdClient.Configuration(endpoints: cluster.endpoints)
        configuration.timeouts = .init(connect: .seconds(2), request: .seconds(5))
        configuration.retry = .init(maxAttempts: 12, initialBackoff: .milliseconds(50), maxBackoff: .milliseconds(500))
        let etcd = try await EtcdClient.connect(configuration)
        defer { Task { await etcd.close() } }
        #expect(etcd.currentEndpoint == cluster.endpoints[0])
        for i in 0..<20 { try await etcd.put("g/\(i)", value: [UInt8(i)]) }

        let start = ContinuousClock.now
        async let stopping: Void = {
            try await Task.sleep(for: .milliseconds(200))
            cluster.terminate(0)
        }()
        let (reads, writes) = try await withThrowingTaskGroup(of: (Bool, EtcdError?).self) { group in
            for round in 0..<400 {
                group.addTask {
                    if round % 4 == 0 {
                        do {
                            try await etcd.put("g/w\(round)", value: [1])
                            return (false, nil)
                        } catch let error as EtcdError {
                            return (false, error)
                        }
                    }
                    try await Task.sleep(for: .milliseconds(Int64(round)))
                    let kv = try await etcd.get("g/\(round % 20)")
                    #expect(kv?.value == [UInt8(round % 20)])
                    return (true, nil)
                }
            }
            var reads = 0
            var writeErrors: [EtcdError] = []
            for try await (isRead, error) in group {
                if isRead { reads += 1 }
                if let error { writeErrors.append(error) }
            }
            return (reads, writeErrors)
        }
        try await stopping
        #expect(reads == 300)
        for error in writes {
            #expect(error.code == .unavailable || error.code == .deadlineExceeded, "\(error)")
        }
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(etcd.currentEndpoint != cluster.endpoints[0])
        #expect(try await etcd.get("g/0")?.value == [0])
    }
}

@Suite("EtcdClient when a member freezes", .serialized, .enabled(if: EtcdTest.enabled))
struct EtcdFrozenMemberTests {
    @Test("a frozen member's connection is declared dead by unanswered keepalive PINGs, and an idle watch moves on")
    func keepAliveDetectsFrozenMember() async throws {
        let cluster = try await PrivateEtcd(count: 3, basePort: 29460)
        defer { cluster.stop() }
        // Freeze a follower (freezing the leader would stall writes until a new election).
        let probe = try await EtcdClient.connect(.init(endpoints: cluster.endpoints))
        let leaderID = try await probe.status().leader
        let members = try await probe.memberList()
        await probe.close()
        let leaderURLs = try #require(members.first { $0.id == leaderID }).clientURLs
        let frozen = try #require(cluster.endpoints.firstIndex { !leaderURLs.contains($0) })
        let others = cluster.endpoints.indices.filter { $0 != frozen }.map { cluster.endpoints[$0] }
        var configuration = EtcdClient.Configuration(endpoints: [cluster.endpoints[frozen]] + others)
        configuration.keepAlive = .init(interval: .seconds(1), timeout: .seconds(1))
        configuration.timeouts = .init(connect: .seconds(1), request: .seconds(3))
        let log = CapturingLogHandler.Store()
        configuration.logger = Logger(label: "test") { _ in CapturingLogHandler(store: log) }
        let watcher = try await EtcdClient.connect(configuration)
        defer { Task { await watcher.close() } }
        #expect(watcher.currentEndpoint == cluster.endpoints[frozen])
        let writer = try await EtcdClient.connect(.init(endpoints: others))
        defer { Task { await writer.close() } }

        let start = try await writer.put("z/k", value: [0]).header.revision
        let events = Task { try await collect(watcher.watch("z/k", fromRevision: start), count: 2, timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(500))
        cluster.freeze(frozen)
        defer { cluster.freeze(frozen, false) }
        let frozenAt = ContinuousClock.now
        try await writer.put("z/k", value: [1])
        let received = try await events.value
        #expect(received.map(\.kv.value) == [[0], [1]])
        // Found out by the PING timeout (1 s after a PING every 1 s), not by TCP.
        #expect(ContinuousClock.now - frozenAt < .seconds(20))
        #expect(log.all.contains { $0.contains("keepalive PING") })
        #expect(watcher.currentEndpoint != cluster.endpoints[frozen])
    }
}

@Suite("EtcdClient watch progress notifications", .serialized, .enabled(if: EtcdTest.enabled))
struct EtcdWatchProgressTests {
    @Test("progress notifications advance where a quiet watch resumes, so a later compaction does not end it")
    func progressAdvancesResume() async throws {
        let server = try await PrivateEtcd(count: 1, basePort: 29496,
                                           extraArguments: ["--experimental-watch-progress-notify-interval", "300ms"])
        defer { server.stop() }
        var configuration = EtcdClient.Configuration(endpoints: server.endpoints)
        configuration.retry = .init(maxAttempts: 20, initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(500))
        let etcd = try await EtcdClient.connect(configuration)
        defer { Task { await etcd.close() } }
        let created = try await etcd.put("quiet", value: [0]).header.revision
        let watch = etcd.watch(key: Array("quiet".utf8), rangeEnd: nil, fromRevision: created + 1, progressNotify: true)
        let events = Task { try await collect(watch, count: 1, timeout: .seconds(60)) }
        var revision = created
        for i in 0..<10 { revision = try await etcd.put("noise/\(i)", value: [1]).header.revision }
        try await Task.sleep(for: .seconds(2))   // several progress notifications
        try await etcd.compact(revision: revision, physical: true)
        server.kill(0)
        try server.start(0)
        try await server.waitHealthy(0)
        let put = try await etcd.put("quiet", value: [2])
        let received = try await events.value
        #expect(received.first?.kv.modRevision == put.header.revision)
        #expect(received.first?.kv.value == [2])
    }
}

@Suite("EtcdClient watch progress notifications as API", .serialized, .enabled(if: EtcdTest.enabled))
struct EtcdWatchProgressAPITests {
    /// Collects a watch's updates in the background.
    final class Collector: Sendable {
        let updates = NIOLockedValueBox<[EtcdWatchUpdate]>([])
        let task: Task<Void, Never>
        init(_ watch: EtcdWatch) {
            let updates = self.updates
            task = Task {
                do {
                    for try await update in watch.updates { updates.withLockedValue { $0.append(update) } }
                } catch {}
            }
        }
        var all: [EtcdWatchUpdate] { updates.withLockedValue { $0 } }
        var progress: [Int64] { all.compactMap { if case .progress(let r) = $0 { r } else { nil } } }
        var events: [EtcdWatchEvent] { all.compactMap { if case .event(let e) = $0 { e } else { nil } } }
    }

    static func eventually(within limit: Duration, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    @Test("progressNotify: periodic progress notifications (--experimental-watch-progress-notify-interval 1s) carry the store's revision; requestWatchProgress() delivers one now to every watcher; the plain event sequence skips them")
    func progressNotifications() async throws {
        let server = try await PrivateEtcd(count: 1, basePort: 29498,
                                           extraArguments: ["--experimental-watch-progress-notify-interval", "1s"])
        defer { server.stop() }
        let etcd = try await EtcdClient.connect(.init(endpoints: server.endpoints))
        defer { Task { await etcd.close() } }

        let periodic = Collector(etcd.watch("quiet", progressNotify: true))
        let onDemand = Collector(etcd.watch(prefix: "idle/"))
        let plain = Task { try await collect(etcd.watch("quiet", progressNotify: true), count: 1, timeout: .seconds(30)) }
        var revision: Int64 = 0
        for i in 0..<3 { revision = try await etcd.put("noise/\(i)", value: [1]).header.revision }

        // Periodic: within a few intervals, a notification at (at least) the last write's revision.
        #expect(try await Self.eventually(within: .seconds(10)) { periodic.progress.contains { $0 >= revision } }, "\(periodic.all)")
        #expect(periodic.events.isEmpty)
        // A watcher that did not ask for them gets none (it has had 1 s intervals to see one).
        #expect(onDemand.all.isEmpty, "\(onDemand.all)")

        // On demand: one notification, at the current revision, to every watcher.
        let before = periodic.progress.count
        revision = try await etcd.put("noise/x", value: [2]).header.revision
        let asked = ContinuousClock.now
        etcd.requestWatchProgress()
        #expect(try await Self.eventually(within: .seconds(5)) { onDemand.progress == [revision] }, "\(onDemand.all)")
        #expect(ContinuousClock.now - asked < .seconds(5))
        #expect(periodic.progress.count > before)

        // Events still arrive among notifications, and the plain sequence yields only events.
        let put = try await etcd.put("quiet", value: [3]).header.revision
        #expect(try await Self.eventually(within: .seconds(5)) { periodic.events.map(\.kv.modRevision) == [put] })
        #expect(try await plain.value.map(\.kv.modRevision) == [put])
        let idle = try await etcd.put("idle/a", value: [4]).header.revision
        #expect(try await Self.eventually(within: .seconds(5)) { onDemand.events.map(\.kv.modRevision) == [idle] })
        #expect(onDemand.progress == [revision])
        periodic.task.cancel()
        onDemand.task.cancel()
    }
}
