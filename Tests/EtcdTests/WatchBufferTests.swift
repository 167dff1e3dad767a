@testable import Etcd
import Testing

/// The per-watch buffer bound (`WatchBuffer`), without a server.
@Suite("Watch buffer: the per-watch limit, whole batches, fell-behind resume revision (no server)")
struct WatchBufferTests {
    @Test("batches are delivered while fewer than the limit wait, and consuming frees room")
    func deliversWithinLimit() {
        var buffer = WatchBuffer(limit: 3)
        #expect(buffer.offer(count: 2, revision: 10) == .deliver)
        #expect(buffer.offer(count: 1, revision: 11) == .deliver)
        #expect(buffer.buffered == 3 && buffer.maxBuffered == 3 && buffer.maxBatch == 2)
        buffer.consumed()
        #expect(buffer.offer(count: 1, revision: 12) == .deliver)
        #expect(buffer.buffered == 3 && buffer.resumeRevision == nil)
        for _ in 0..<5 { buffer.consumed() }
        #expect(buffer.buffered == 0)
    }

    @Test("with the limit waiting, the next batch ends the watch at its first revision, and nothing is taken after")
    func fellBehind() {
        var buffer = WatchBuffer(limit: 3)
        #expect(buffer.offer(count: 2, revision: 10) == .deliver)
        #expect(buffer.offer(count: 2, revision: 11) == .deliver)
        #expect(buffer.buffered == 4)
        #expect(buffer.offer(count: 1, revision: 13) == .fellBehind(resumeRevision: 13))
        #expect(buffer.resumeRevision == 13)
        #expect(buffer.buffered == 4 && buffer.maxBuffered == 4)
        // Later batches (and progress notifications) are dropped, even once the consumer drained.
        for _ in 0..<4 { buffer.consumed() }
        #expect(buffer.offer(count: 1, revision: 14) == .ignore)
        #expect(buffer.buffered == 0)
    }

    @Test("a batch larger than the limit is delivered whole: the bound is limit - 1 + the largest batch")
    func bigBatch() {
        var buffer = WatchBuffer(limit: 3)
        #expect(buffer.offer(count: 2, revision: 1) == .deliver)
        #expect(buffer.offer(count: 1_000, revision: 3) == .deliver)
        #expect(buffer.maxBuffered == 1_002 && buffer.maxBuffered < buffer.limit + buffer.maxBatch)
        #expect(buffer.offer(count: 1, revision: 1_003) == .fellBehind(resumeRevision: 1_003))
    }

    @Test("a consumer that keeps up never falls behind, whatever the volume")
    func keepingUp() {
        var buffer = WatchBuffer(limit: 2)
        for revision in Int64(1)...10_000 {
            #expect(buffer.offer(count: 1, revision: revision) == .deliver)
            buffer.consumed()
        }
        #expect(buffer.maxBuffered == 1 && buffer.resumeRevision == nil)
    }

    @Test("empty batches and a non-positive limit are harmless")
    func edges() {
        var buffer = WatchBuffer(limit: 0)
        #expect(buffer.limit == 1)
        #expect(buffer.offer(count: 0, revision: 1) == .deliver)
        #expect(buffer.buffered == 0)
        buffer.consumed()
        #expect(buffer.buffered == 0)
    }

    @Test("the gauge shares one buffer between the hub and the iterator")
    func gauge() {
        let gauge = WatchBufferGauge(limit: 1)
        #expect(gauge.offer(count: 1, revision: 1) == .deliver)
        gauge.consumed()
        #expect(gauge.offer(count: 1, revision: 2) == .deliver)
        #expect(gauge.offer(count: 1, revision: 3) == .fellBehind(resumeRevision: 3))
        #expect(gauge.snapshot.resumeRevision == 3)
    }
}
