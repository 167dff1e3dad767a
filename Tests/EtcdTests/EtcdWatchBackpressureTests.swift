@testable import Etcd
import Foundation
import StoreTestSupport
import Testing

@Suite("EtcdClient watch back-pressure against a real etcd", .enabled(if: EtcdTest.enabled))
struct EtcdWatchBackpressureTests {
    /// A watch whose consumer does not read while 600 puts land on its prefix: it buffers at most
    /// `watchBufferLimit` events, a Range and another watch on the same client are not held up, and
    /// once read it delivers every put before its resume revision, in order, then throws
    /// `.watchFellBehind`; watching again from `resumeRevision` delivers the rest with no gap.
    @Test("a stalled watch stays within its limit, does not hold up the client, and resumes with no gap")
    func stalledWatch() async throws {
        var configuration = try EtcdTest.configuration()
        let limit = 100
        configuration.watchBufferLimit = limit
        let etcd = try await EtcdClient.connect(configuration)
        do {
            let p = EtcdTest.prefix()
            let other = EtcdTest.prefix() + "other/"
            let start = try await etcd.put(p + "start", value: []).header.revision + 1
            let stalled = etcd.watch(prefix: p, fromRevision: start)
            let stalledGauge = try #require(stalled.gauge)
            let otherWatch = etcd.watch(prefix: other, fromRevision: start)
            let otherEvents = Task { try await collect(otherWatch, count: 30, timeout: .seconds(60)) }
            // Put nothing under `p` before etcd has the stalled watch in its synced group: a watch
            // registered after puts on its prefix is caught up in one response holding all of them,
            // which the documented bound allows but the tighter check below would not. Creates go
            // out on the shared stream in watch order and etcd registers them in that order, so once
            // a probe watch made after both sees its key, the stalled watch is up to date and from
            // here on gets one response per revision.
            let probePrefix = EtcdTest.prefix() + "probe/"
            let probe = etcd.watch(prefix: probePrefix, fromRevision: start)
            try await etcd.put(probePrefix + "ready", value: [1])
            _ = try await collect(probe, count: 1, timeout: .seconds(30))

            // A Range every 20 ms on the same client while the puts happen.
            let rangeLatencies = Task { () -> [Duration] in
                var latencies: [Duration] = []
                let clock = ContinuousClock()
                while !Task.isCancelled {
                    let began = clock.now
                    _ = try? await etcd.get(p + "start")
                    latencies.append(clock.now - began)
                    try? await Task.sleep(for: .milliseconds(20))
                }
                return latencies
            }
            let n = 600
            var revisions: [Int64] = []
            for i in 0..<n {
                revisions.append(try await etcd.put(p + "k\(i % 50)", value: Array(repeating: UInt8(i % 256), count: 64)).header.revision)
                if i % 20 == 0 { try await etcd.put(other + "o\(i)", value: [1]) }
            }
            // Let the hub route what etcd still sends.
            let deadline = ContinuousClock.now + .seconds(10)
            while stalledGauge.snapshot.resumeRevision == nil && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            rangeLatencies.cancel()
            let latencies = await rangeLatencies.value
            let snapshot = stalledGauge.snapshot
            print("stalled watch: buffered \(snapshot.buffered), max \(snapshot.maxBuffered) (limit \(limit), largest batch \(snapshot.maxBatch)), resume at \(snapshot.resumeRevision.map(String.init) ?? "-"); \(latencies.count) Ranges, max \(latencies.max() ?? .zero)")
            // The documented bound: fewer than the limit plus one response; with one revision per
            // response here (see the probe above), the limit itself, plus a slack of 10.
            #expect(snapshot.maxBuffered < limit + snapshot.maxBatch)
            #expect(snapshot.maxBatch <= 10, "etcd batched \(snapshot.maxBatch) events into one response for a watch that was up to date")
            #expect(snapshot.maxBuffered <= limit + 10)
            #expect(snapshot.resumeRevision != nil)
            #expect(latencies.count >= 5)
            #expect((latencies.max() ?? .zero) < .seconds(1), "a Range on the client of a stalled watch took \(latencies.max() ?? .zero)")
            // The other watch on the same stream kept going.
            let others = try await otherEvents.value
            #expect(others.count == 30)

            // The consumer resumes: every event before the resume revision, in order, then the error.
            var seen: [Int64] = []
            var ending: EtcdError?
            do {
                for try await event in stalled { seen.append(event.kv.modRevision) }
            } catch let error as EtcdError {
                ending = error
            }
            let error = try #require(ending)
            #expect(error.code == .watchFellBehind)
            #expect(error.message.contains("fell behind") && error.message.contains("fromRevision"))
            let resume = try #require(error.resumeRevision)
            #expect(seen.count == snapshot.maxBuffered)
            #expect(seen == Array(revisions.prefix(seen.count)))
            #expect(resume == revisions[seen.count])
            // Watching again from the resume revision (the documented loop) delivers the rest, with
            // no gap and no repeat, even if a history replay burst makes it fall behind again.
            var from = resume
            var rest: [Int64] = []
            var resumes = 0
            let restDeadline = ContinuousClock.now + .seconds(60)
            resuming: while rest.count < n - seen.count && ContinuousClock.now < restDeadline {
                do {
                    for try await event in etcd.watch(prefix: p, fromRevision: from) {
                        rest.append(event.kv.modRevision)
                        from = event.kv.modRevision + 1
                        if rest.count == n - seen.count { break resuming }
                    }
                } catch let error as EtcdError where error.code == .watchFellBehind {
                    #expect(error.resumeRevision == from)
                    from = error.resumeRevision ?? from
                    resumes += 1
                }
            }
            print("stalled watch: \(seen.count) events then .watchFellBehind at \(resume); the other \(rest.count) after \(resumes) more resumes")
            #expect(rest == Array(revisions[seen.count...]))
        } catch {
            await etcd.close()
            throw error
        }
        await etcd.close()
    }

    @Test("a consumer that keeps up with 2,000 events never falls behind a limit of 500")
    func keepingUp() async throws {
        var configuration = try EtcdTest.configuration()
        configuration.watchBufferLimit = 500
        let etcd = try await EtcdClient.connect(configuration)
        do {
            let p = EtcdTest.prefix()
            let start = try await etcd.put(p + "start", value: []).header.revision + 1
            let watch = etcd.watch(prefix: p, fromRevision: start)
            let consumer = Task { try await collect(watch, count: 2_000, timeout: .seconds(60)) }
            for i in 0..<2_000 {
                try await etcd.put(p + "k", value: Array("\(i)".utf8))
                // Pace the writer so a consumer that keeps up never has 500 waiting.
                if i % 10 == 0 { try await Task.sleep(for: .milliseconds(2)) }
            }
            let events = try await consumer.value
            #expect(events.count == 2_000)
            #expect(events.map(\.kv.valueString) == (0..<2_000).map { "\($0)" })
        } catch {
            await etcd.close()
            throw error
        }
        await etcd.close()
    }
}
