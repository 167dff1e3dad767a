import Foundation
import Testing
import ZooKeeper

/// `watch` and `watchChildren` against the real ZooKeeper: re-armed after every event.
@Suite("ZooKeeper watches", .enabled(if: ZK.enabled), .timeLimit(.minutes(2)))
struct ZooKeeperWatchTests {
    @Test("watch sees the initial state, every set, the delete and a re-create")
    func dataWatch() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        let path = root + "/w"
        try await zk.create(path, data: .utf8("v0"))
        let events = Recorder(zk.watch(path))
        #expect(await events.wait { $0.count == 1 })
        #expect(events.elements.first?.kind == .initial)
        #expect(events.elements.first?.data == .utf8("v0"))
        #expect(events.elements.first?.path == path)

        // Waiting for each event before the next change: no coalescing, every value is seen.
        for i in 1...5 {
            try await zk.set(path, data: .utf8("v\(i)"))
            #expect(await events.wait { $0.last?.data == .utf8("v\(i)") }, "saw \(events.elements.map(\.kind))")
            #expect(events.elements.last?.kind == .changed)
            #expect(events.elements.last?.stat?.version == Int32(i))
        }
        #expect(events.elements.count == 6)

        try await zk.delete(path)
        #expect(await events.wait { $0.last?.kind == .deleted })
        #expect(events.elements.last?.exists == false)
        #expect(events.elements.last?.data == nil)

        try await zk.create(path, data: .utf8("again"))
        #expect(await events.wait { $0.last?.kind == .created })
        #expect(events.elements.last?.data == .utf8("again"))
        #expect(events.elements.last?.stat?.version == 0)

        events.cancel()
        #expect(await events.waitFinished())
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("watching a missing node reports its creation")
    func watchMissing() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        let path = root + "/later"
        let events = Recorder(zk.watch(path))
        #expect(await events.wait { $0.count == 1 })
        #expect(events.elements.first?.kind == .initial)
        #expect(events.elements.first?.exists == false)
        try await zk.create(path, data: .utf8("here"))
        #expect(await events.wait { $0.count == 2 })
        #expect(events.elements.last?.kind == .created)
        #expect(events.elements.last?.data == .utf8("here"))
        events.cancel()
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("quick successive changes coalesce into events that end at the latest value")
    func coalescing() async throws {
        let zk = try await ZK.client()
        let writer = try await ZK.client()
        let root = try await ZK.root(zk)
        let path = root + "/c"
        try await zk.create(path, data: .utf8("0"))
        let events = Recorder(zk.watch(path))
        #expect(await events.wait { $0.count == 1 })
        for i in 1...50 { try await writer.set(path, data: .utf8("\(i)")) }
        #expect(await events.wait { $0.last?.data == .utf8("50") })
        let versions = events.elements.compactMap { $0.stat?.version }
        #expect(versions == versions.sorted(), "events arrive in order")
        #expect(Set(versions).count == versions.count, "no value is reported twice")
        #expect(events.elements.count <= 51)
        events.cancel()
        await ZK.deleteTree(zk, root)
        await writer.close()
        await zk.close()
    }

    @Test("watchChildren sees children created and deleted, and the node's deletion")
    func childrenWatch() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        let parent = root + "/p"
        try await zk.create(parent)
        let events = Recorder(zk.watchChildren(parent))
        #expect(await events.wait { $0.count == 1 })
        #expect(events.elements.first?.kind == .initial)
        #expect(events.elements.first?.children == [])

        try await zk.create(parent + "/b")
        #expect(await events.wait { $0.last?.children == ["b"] })
        #expect(events.elements.last?.kind == .childrenChanged)
        try await zk.create(parent + "/a")
        #expect(await events.wait { $0.last?.children == ["a", "b"] }, "children are sorted")
        // A data change of the parent is not a children change.
        let countBefore = events.elements.count
        try await zk.set(parent, data: .utf8("ignored"))
        try await zk.delete(parent + "/b")
        #expect(await events.wait { $0.last?.children == ["a"] })
        #expect(events.elements.count == countBefore + 1)
        try await zk.delete(parent + "/a")
        try await zk.delete(parent)
        #expect(await events.wait { $0.last?.kind == .deleted })
        #expect(events.elements.last?.children == nil)
        events.cancel()
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("two watches on one node are independent; ending one leaves the other running")
    func independentWatches() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        let path = root + "/i"
        try await zk.create(path, data: .utf8("a"))
        let first = Recorder(zk.watch(path))
        let second = Recorder(zk.watch(path))
        #expect(await first.wait { $0.count == 1 })
        #expect(await second.wait { $0.count == 1 })
        first.cancel()
        #expect(await first.waitFinished())
        try await zk.set(path, data: .utf8("b"))
        #expect(await second.wait { $0.last?.data == .utf8("b") })
        #expect(first.elements.count == 1)
        second.cancel()
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("closing the client ends every watch (iteration returns nil)")
    func closeEndsWatches() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        let data = Recorder(zk.watch(root))
        let children = Recorder(zk.watchChildren(root))
        #expect(await data.wait { $0.count == 1 })
        #expect(await children.wait { $0.count == 1 })
        let cleaner = try await ZK.client()
        await zk.close()
        #expect(await data.waitFinished())
        #expect(await children.waitFinished())
        #expect(data.error == nil)
        // A watch made after close ends at once.
        let late = Recorder(zk.watch(root))
        #expect(await late.waitFinished())
        #expect(late.elements.isEmpty)
        await ZK.deleteTree(cleaner, root)
        await cleaner.close()
    }

    @Test("a watch fails with .noAuth when the node's ACL forbids reading it")
    func watchNoAuth() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        let path = root + "/secret"
        try await zk.addAuth(scheme: "digest", credentials: "owner:pw")
        try await zk.create(path, data: .utf8("s"), acl: .creatorAll)
        let other = try await ZK.client()
        let events = Recorder(other.watch(path))
        #expect(await events.waitFinished())
        #expect((events.error as? ZooKeeperError)?.code == .noAuth)
        await ZK.deleteTree(zk, root)
        await other.close()
        await zk.close()
    }

    @Test("many watches started and ended on live, deleted and missing nodes; the one left keeps working")
    func endManyWatches() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        let path = root + "/busy"
        try await zk.create(path, data: .utf8("0"))
        let survivor = Recorder(zk.watch(path))
        #expect(await survivor.wait { $0.count == 1 })
        for round in 0..<3 {
            let watches = (0..<20).map { i in i % 2 == 0 ? Recorder(zk.watch(path)) : Recorder(zk.watchChildren(path)) }
            let missing = Recorder(zk.watch(root + "/missing-\(round)"))
            for watch in watches { #expect(await watch.wait { $0.count >= 1 }) }
            #expect(await missing.wait { $0.count == 1 })
            try await zk.create(path + "/child")
            try await zk.delete(path + "/child")
            for watch in watches { watch.cancel() }
            missing.cancel()
            for watch in watches { #expect(await watch.waitFinished()) }
            try await zk.set(path, data: .utf8("\(round + 1)"))
            #expect(await survivor.wait { $0.last?.data == .utf8("\(round + 1)") })
        }
        // Ending a watch whose node was deleted meanwhile.
        let doomed = Recorder(zk.watch(path))
        #expect(await doomed.wait { $0.count == 1 })
        try await zk.delete(path)
        #expect(await doomed.wait { $0.last?.kind == .deleted })
        doomed.cancel()
        #expect(await survivor.wait { $0.last?.kind == .deleted })
        try await zk.create(path, data: .utf8("back"))
        #expect(await survivor.wait { $0.last?.kind == .created })
        #expect(doomed.elements.last?.kind == .deleted, "an ended watch reports nothing more")
        survivor.cancel()
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("a consumer that falls behind gets one event with the latest state, not a backlog")
    func slowConsumer() async throws {
        let zk = try await ZK.client()
        let writer = try await ZK.client()
        let root = try await ZK.root(zk)
        let path = root + "/busy"
        try await zk.create(path, data: .utf8("0"))
        var events = zk.watch(path).makeAsyncIterator()
        #expect(try await events.next()?.kind == .initial)

        // The consumer is busy while the node changes 200 times, 10 KiB each.
        let padding = [UInt8](repeating: 0x2e, count: 10 * 1024)
        for i in 1...200 { try await writer.set(path, data: .utf8("\(i)") + padding) }
        try await Task.sleep(for: .seconds(1))

        // Unbounded buffering would hand out the 200 changes one by one, starting with "1".
        var seen: [ZooKeeperWatchEvent] = []
        while let event = try await events.next() {
            seen.append(event)
            if event.stat?.version == 200 { break }
        }
        #expect(seen.count == 1, "kinds \(seen.map(\.kind)), versions \(seen.map { $0.stat?.version ?? -1 })")
        #expect(seen.last?.kind == .changed)
        #expect(seen.last?.data == .utf8("200") + padding)
        // Nothing older is queued behind it: the next event is the next change.
        try await writer.set(path, data: .utf8("after"))
        let next = try await events.next()
        #expect(next?.kind == .changed)
        #expect(next?.data == .utf8("after"))

        await zk.close()
        #expect(try await events.next() == nil, "closing the client ends the watch")
        await ZK.deleteTree(writer, root)
        await writer.close()
    }
}
