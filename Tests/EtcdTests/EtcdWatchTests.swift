import Etcd
import StoreTestSupport
import Testing

/// Collects the first `count` events of a watch, failing after `timeout`.
func collect(_ watch: EtcdWatch, count: Int, timeout: Duration = .seconds(15)) async throws -> [EtcdWatchEvent] {
    try await withThrowingTaskGroup(of: [EtcdWatchEvent]?.self) { group in
        group.addTask {
            var events: [EtcdWatchEvent] = []
            for try await event in watch {
                events.append(event)
                if events.count == count { break }
            }
            return events
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let events = first else {
            throw EtcdError(code: .deadlineExceeded, message: "the watch did not deliver \(count) events within \(timeout)")
        }
        return events
    }
}

@Suite("EtcdClient watches against a real etcd", .enabled(if: EtcdTest.enabled))
struct EtcdWatchTests {
    @Test("a key watch from a revision delivers every put and delete in order")
    func keyFromRevision() async throws {
        try await EtcdTest.withClient { etcd in
            let key = EtcdTest.prefix() + "w"
            let first = try await etcd.put(key, value: "1".bytes)
            try await etcd.put(key, value: "2".bytes)
            try await etcd.put(EtcdTest.prefix() + "other", value: [0])
            try await etcd.delete(key)
            try await etcd.put(key, value: "3".bytes)
            let events = try await collect(etcd.watch(key, fromRevision: first.header.revision), count: 4)
            #expect(events.map(\.type) == [.put, .put, .delete, .put])
            #expect(events.map(\.kv.value) == ["1".bytes, "2".bytes, [], "3".bytes])
            #expect(events.allSatisfy { $0.kv.keyString == key })
            #expect(events.first?.kv.modRevision == first.header.revision)
            let revisions = events.map(\.kv.modRevision)
            #expect(revisions == revisions.sorted() && Set(revisions).count == 4)
        }
    }

    @Test("a prefix watch sees only keys under the prefix, with prevKV when asked")
    func prefixWithPrevKV() async throws {
        try await EtcdTest.withClient { etcd in
            let p = EtcdTest.prefix()
            let start = try await etcd.put(p + "a", value: "a1".bytes)
            try await etcd.put(String(p.dropLast()) + "-not-under", value: [1])
            try await etcd.put(p + "b", value: "b1".bytes)
            try await etcd.put(p + "a", value: "a2".bytes)
            let events = try await collect(etcd.watch(prefix: p, fromRevision: start.header.revision, prevKV: true), count: 3)
            #expect(events.map(\.kv.keyString) == [p + "a", p + "b", p + "a"])
            #expect(events[0].prevKV == nil)
            #expect(events[2].prevKV?.value == "a1".bytes)
        }
    }

    @Test("a watch without a start revision reports changes made after it starts")
    func fromNow() async throws {
        try await EtcdTest.withClient { etcd in
            let key = EtcdTest.prefix() + "now"
            try await etcd.put(key, value: "before".bytes)
            let watch = etcd.watch(key)
            let writer = Task {
                var i = 0
                while !Task.isCancelled {
                    try await etcd.put(key, value: "after\(i)".bytes)
                    i += 1
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            defer { writer.cancel() }
            let events = try await collect(watch, count: 2)
            #expect(events.allSatisfy { $0.kv.valueString.hasPrefix("after") })
            #expect(events[1].kv.modRevision > events[0].kv.modRevision)
        }
    }

    @Test("many watchers on one client each get their own events")
    func manyWatchers() async throws {
        try await EtcdTest.withClient { etcd in
            let p = EtcdTest.prefix()
            let start = try await etcd.range(prefix: p).header.revision + 1
            for i in 0..<20 { try await etcd.put(p + "\(i)", value: "\(i)".bytes) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        let events = try await collect(etcd.watch(p + "\(i)", fromRevision: start), count: 1)
                        #expect(events.first?.kv.valueString == "\(i)")
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test("an empty watched key ends the watch with .invalidArgument")
    func emptyKey() async throws {
        try await EtcdTest.withClient { etcd in
            let error = await #expect(throws: EtcdError.self) { _ = try await collect(etcd.watch(""), count: 1) }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test("closing the client ends its watches with .closed")
    func closeEndsWatch() async throws {
        let etcd = try await EtcdClient.connect(try EtcdTest.configuration())
        let watch = etcd.watch(EtcdTest.prefix() + "never")
        let consumer = Task { try await collect(watch, count: 1, timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(300))
        await etcd.close()
        let error = await #expect(throws: EtcdError.self) { _ = try await consumer.value }
        #expect(error?.code == .closed)
    }
}
