import Etcd
import Foundation
import NIOConcurrencyHelpers
import StoreTestSupport
import Testing

/// The back-pressure benchmark, opt-in (`AUTOCLUSTER_BENCH=1`, not run by default): one
/// watcher consuming 100 events/s on a prefix that receives puts as fast as the writers can go
/// (the issue asks for 20k/s), for `AUTOCLUSTER_BENCH_SECONDS` (default 30). Every 5 s it prints the
/// process's VmRSS, the put rate, and the latency of a Range on the watcher's own client; a watch
/// that falls behind is resumed from its `resumeRevision` (and the first event after the resume is
/// checked to be exactly that revision). Then the writers stop, the consumer reads at full speed
/// until it has seen every put, and the outcome (nothing lost, in order) is printed.
///
///     AUTOCLUSTER_BENCH=1 AUTOCLUSTER_REQUIRE_STORES=1 swift test --skip-build --no-parallel \
///         --filter EtcdWatchBackpressureBenchmark
@Suite("Watch back-pressure benchmark (AUTOCLUSTER_BENCH=1)",
       .enabled(if: ProcessInfo.processInfo.environment["AUTOCLUSTER_BENCH"] == "1", "an opt-in benchmark: AUTOCLUSTER_BENCH=1 runs it"),
       .enabled(if: EtcdTest.enabled))
struct EtcdWatchBackpressureBenchmark {
    static func rssKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? -1
        }
        return -1
    }

    static func percentile(_ values: [Duration], _ p: Double) -> Duration {
        guard !values.isEmpty else { return .zero }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    static func ms(_ d: Duration) -> String {
        String(format: "%.2f ms", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
    }

    @Test("one watcher at 100 events/s on a prefix under a put flood: RSS, Range latency, outcome")
    func flood() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = Int(environment["AUTOCLUSTER_BENCH_SECONDS"] ?? "") ?? 30
        let limit = Int(environment["AUTOCLUSTER_BENCH_WATCH_LIMIT"] ?? "") ?? 1_000
        let writerClients = 4
        let writersPerClient = 48
        var configuration = try EtcdTest.configuration()
        configuration.watchBufferLimit = limit
        let etcd = try await EtcdClient.connect(configuration)
        var writerList: [EtcdClient] = []
        for _ in 0..<writerClients { writerList.append(try await EtcdClient.connect(try EtcdTest.configuration())) }
        let writers = writerList
        // A client with no watch, whose Range latency is the machine's, to compare with the watcher's.
        let control = try await EtcdClient.connect(try EtcdTest.configuration())
        defer {
            let all = [etcd, control] + writers
            Task { for client in all { await client.close() } }
        }
        let p = EtcdTest.prefix()
        let clock = ContinuousClock()

        // Range latency on the watcher's client before the flood.
        var baseline: [Duration] = []
        for _ in 0..<50 {
            let began = clock.now
            _ = try await etcd.get(p + "none")
            baseline.append(clock.now - began)
        }
        print("[bench] watchBufferLimit \(limit); \(writerClients)×\(writersPerClient) writers; Range before the flood: p50 \(Self.ms(Self.percentile(baseline, 0.5))), p99 \(Self.ms(Self.percentile(baseline, 0.99))); VmRSS \(Self.rssKiB()) KiB")

        let start = try await etcd.put(p + "start", value: []).header.revision + 1
        let puts = NIOLockedValueBox(0)
        let stop = NIOLockedValueBox(false)
        let value = Array(repeating: UInt8(ascii: "x"), count: 100)
        let writerTasks = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (c, client) in writers.enumerated() {
                    for w in 0..<writersPerClient {
                        group.addTask {
                            var i = 0
                            while !stop.withLockedValue({ $0 }) {
                                _ = try await client.put(p + "k/\(c)/\(w)/\(i % 100)", value: value)
                                puts.withLockedValue { $0 += 1 }
                                i += 1
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }

        // The consumer: 100 events/s, resuming from resumeRevision when it falls behind.
        struct Progress: Sendable { var consumed = 0, last: Int64 = 0, fellBehind = 0, resumeGaps = 0, outOfOrder = 0, fullSpeed = false, done = false }
        let progress = NIOLockedValueBox(Progress())
        let consumer = Task {
            var from = start
            var expectFirst: Int64? = nil
            while true {
                do {
                    for try await event in etcd.watch(prefix: p, fromRevision: from) {
                        let revision = event.kv.modRevision
                        let fullSpeed = progress.withLockedValue { state -> Bool in
                            if let first = expectFirst, first != revision { state.resumeGaps += 1 }
                            if revision <= state.last { state.outOfOrder += 1 }
                            state.last = revision
                            state.consumed += 1
                            return state.fullSpeed
                        }
                        expectFirst = nil
                        from = revision + 1
                        if !fullSpeed { try await Task.sleep(for: .milliseconds(10)) }
                        if progress.withLockedValue({ $0.done }) { return }
                    }
                    return
                } catch let error as EtcdError where error.code == .watchFellBehind {
                    let resume = error.resumeRevision!
                    progress.withLockedValue { $0.fellBehind += 1 }
                    if resume != from { progress.withLockedValue { $0.resumeGaps += 1 } }
                    from = resume
                    expectFirst = resume
                }
            }
        }

        // Range latency on the watcher's client during the flood.
        let latencies = NIOLockedValueBox<[Duration]>([])
        let ranger = Task {
            while !Task.isCancelled {
                let began = clock.now
                _ = try? await etcd.get(p + "none")
                latencies.withLockedValue { $0.append(clock.now - began) }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        let controlLatencies = NIOLockedValueBox<[Duration]>([])
        let controlRanger = Task {
            while !Task.isCancelled {
                let began = clock.now
                _ = try? await control.get(p + "none")
                controlLatencies.withLockedValue { $0.append(clock.now - began) }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }

        let began = clock.now
        var lastPuts = 0
        var allLatencies: [Duration] = []
        var allControl: [Duration] = []
        var maxRSS = 0
        for tick in 1...max(1, seconds / 5) {
            try await Task.sleep(for: .seconds(5))
            let total = puts.withLockedValue { $0 }
            let window = latencies.withLockedValue { values in defer { values = [] }; return values }
            allLatencies += window
            let controlWindow = controlLatencies.withLockedValue { values in defer { values = [] }; return values }
            allControl += controlWindow
            let rss = Self.rssKiB()
            maxRSS = max(maxRSS, rss)
            let state = progress.withLockedValue { $0 }
            print("[bench] t=\(tick * 5)s VmRSS \(rss) KiB; puts \(total) (\((total - lastPuts) / 5)/s); consumed \(state.consumed), fell behind \(state.fellBehind)×; Range p50 \(Self.ms(Self.percentile(window, 0.5))), p99 \(Self.ms(Self.percentile(window, 0.99))), max \(Self.ms(window.max() ?? .zero)) (\(window.count) calls); control client p50 \(Self.ms(Self.percentile(controlWindow, 0.5))), p99 \(Self.ms(Self.percentile(controlWindow, 0.99)))")
            lastPuts = total
        }
        stop.withLockedValue { $0 = true }
        try await writerTasks.value
        ranger.cancel()
        controlRanger.cancel()
        let elapsed = clock.now - began
        let totalPuts = puts.withLockedValue { $0 }
        print("[bench] flood over: \(totalPuts) puts in \(elapsed) = \(Int(Double(totalPuts) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)))/s; Range during the flood p50 \(Self.ms(Self.percentile(allLatencies, 0.5))), p99 \(Self.ms(Self.percentile(allLatencies, 0.99))), max \(Self.ms(allLatencies.max() ?? .zero)) (control client without a watch: p50 \(Self.ms(Self.percentile(allControl, 0.5))), p99 \(Self.ms(Self.percentile(allControl, 0.99))), max \(Self.ms(allControl.max() ?? .zero))); max VmRSS \(maxRSS) KiB")

        // Catch up at full speed: every put must arrive, in order, with no gap at any resume.
        progress.withLockedValue { $0.fullSpeed = true }
        let catchUpBegan = clock.now
        while progress.withLockedValue({ $0.consumed }) < totalPuts && clock.now - catchUpBegan < .seconds(300) {
            try await Task.sleep(for: .milliseconds(200))
        }
        progress.withLockedValue { $0.done = true }
        // Wake the consumer if it is waiting for an event.
        _ = try await etcd.put(p + "end", value: [])
        _ = await consumer.result
        let state = progress.withLockedValue { $0 }
        print("[bench] outcome: consumed \(state.consumed) of \(totalPuts) puts (+\(state.consumed - totalPuts) end marker) after a full-speed catch-up of \(clock.now - catchUpBegan); fell behind and resumed \(state.fellBehind)×; out of order \(state.outOfOrder); resumes not at the resume revision \(state.resumeGaps); VmRSS \(Self.rssKiB()) KiB")
        #expect(state.consumed >= totalPuts)
        #expect(state.outOfOrder == 0 && state.resumeGaps == 0)
    }
}
