import Foundation
import Logging
import Testing
import ZooKeeper

/// Every basic operation against the real ZooKeeper of scripts/start-stores.sh.
@Suite("ZooKeeperClient operations", .enabled(if: ZK.enabled), .timeLimit(.minutes(2)))
struct ZooKeeperOperationTests {
    @Test("create, get, set with version, exists, children, delete")
    func crud() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)

        let created = try await zk.create(root + "/a", data: .utf8("one"))
        #expect(created == root + "/a")
        let (data, stat) = try await zk.get(root + "/a")
        #expect(data == .utf8("one"))
        #expect(stat.version == 0)
        #expect(stat.dataLength == 3)
        #expect(stat.ephemeralOwner == 0)

        let newStat = try await zk.set(root + "/a", data: .utf8("two"), version: stat.version)
        #expect(newStat.version == 1)
        #expect(newStat.mzxid > stat.mzxid)
        #expect(newStat.czxid == stat.czxid)
        #expect(try await zk.get(root + "/a").data == .utf8("two"))

        let badVersion = await ZK.error { try await zk.set(root + "/a", data: .utf8("three"), version: 0) }
        #expect(badVersion?.code == .badVersion)
        #expect(badVersion?.path == root + "/a")
        #expect(try await zk.get(root + "/a").data == .utf8("two"), "a failed CAS must not change the data")

        #expect(try await zk.exists(root + "/a")?.version == 1)
        #expect(try await zk.exists(root + "/missing") == nil)

        try await zk.create(root + "/b")
        #expect(try await zk.children(root).sorted() == ["a", "b"])
        let (names, parentStat) = try await zk.childrenWithStat(root)
        #expect(names.sorted() == ["a", "b"])
        #expect(parentStat.numChildren == 2)

        let deleteBad = await ZK.error { try await zk.delete(root + "/a", version: 0) }
        #expect(deleteBad?.code == .badVersion)
        try await zk.delete(root + "/a", version: 1)
        try await zk.delete(root + "/b")
        #expect(try await zk.exists(root + "/a") == nil)
        #expect(try await zk.children(root).isEmpty)

        try await zk.delete(root)
        await zk.close()
    }

    @Test("empty data and binary data round-trip byte for byte")
    func binaryData() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        let bytes: [UInt8] = (0...255).map { UInt8($0) } + [0, 0, 255]
        try await zk.create(root + "/bin", data: bytes)
        #expect(try await zk.get(root + "/bin").data == bytes)
        try await zk.create(root + "/empty")
        let (empty, stat) = try await zk.get(root + "/empty")
        #expect(empty.isEmpty)
        #expect(stat.dataLength == 0)
        // Data up to the 1 MiB limit is accepted (the server's default jute.maxbuffer is a bit larger).
        let large = [UInt8](repeating: 7, count: 1_000_000)
        try await zk.set(root + "/bin", data: large)
        #expect(try await zk.get(root + "/bin").data == large)
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("create modes: sequential names, ephemeral owner, container, TTL, createWithStat")
    func createModes() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)

        let first = try await zk.create(root + "/seq-", mode: .persistentSequential)
        let second = try await zk.create(root + "/seq-", mode: .persistentSequential)
        #expect(first.hasPrefix(root + "/seq-"))
        #expect(first.count == (root + "/seq-").count + 10, "a 10-digit sequence suffix")
        #expect(second > first)

        let (ephemeralPath, ephemeralStat) = try await zk.createWithStat(root + "/eph", data: .utf8("x"), mode: .ephemeral)
        #expect(ephemeralPath == root + "/eph")
        #expect(ephemeralStat.ephemeralOwner != 0)
        #expect(ephemeralStat.ephemeralOwner == zk.session?.id)
        #expect(ephemeralStat.dataLength == 1)

        let ephemeralSequential = try await zk.create(root + "/es-", mode: .ephemeralSequential)
        #expect(try await zk.exists(ephemeralSequential)?.ephemeralOwner == zk.session?.id)

        let children = await ZK.error { try await zk.create(root + "/eph/child") }
        #expect(children?.code == .noChildrenForEphemerals)

        try await zk.create(root + "/container", mode: .container)
        try await zk.create(root + "/container/child")
        #expect(try await zk.exists(root + "/container") != nil)

        let ttlPath = try await zk.create(root + "/ttl", mode: .persistentWithTTL(.seconds(60)))
        #expect(ttlPath == root + "/ttl")
        #expect(try await zk.exists(ttlPath)?.ephemeralOwner == 0, "a TTL node is not owned by the session")
        let zeroTTL = await ZK.error { try await zk.create(root + "/ttl0", mode: .persistentWithTTL(.zero)) }
        #expect(zeroTTL?.code == .badArguments)

        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("an ephemeral node disappears when its session closes")
    func ephemeralGoneOnClose() async throws {
        let observer = try await ZK.client()
        let root = try await ZK.root(observer)
        let owner = try await ZK.client()
        try await owner.create(root + "/eph", mode: .ephemeral)
        #expect(try await observer.exists(root + "/eph") != nil)
        await owner.close()
        #expect(try await observer.exists(root + "/eph") == nil, "closing ends the session at once")
        await ZK.deleteTree(observer, root)
        await observer.close()
    }

    @Test("ZooKeeper result codes: noNode, nodeExists, notEmpty, badVersion")
    func resultCodes() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)

        let noNode = await ZK.error { _ = try await zk.get(root + "/missing") }
        #expect(noNode?.code == .noNode)
        #expect(noNode?.path == root + "/missing")
        #expect(noNode?.returnCode == -101)
        #expect(noNode?.message.contains("does not exist") == true)

        let noParent = await ZK.error { try await zk.create(root + "/no/parent") }
        #expect(noParent?.code == .noNode)
        #expect(noParent?.message.contains("parent") == true)

        try await zk.create(root + "/x")
        let exists = await ZK.error { try await zk.create(root + "/x") }
        #expect(exists?.code == .nodeExists)
        #expect(exists?.returnCode == -110)

        try await zk.create(root + "/x/y")
        let notEmpty = await ZK.error { try await zk.delete(root + "/x") }
        #expect(notEmpty?.code == .notEmpty)

        #expect(await ZK.error { _ = try await zk.set(root + "/missing", data: []) }?.code == .noNode)
        #expect(await ZK.error { try await zk.delete(root + "/missing") }?.code == .noNode)
        #expect(await ZK.error { _ = try await zk.children(root + "/missing") }?.code == .noNode)

        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("a chroot in the connect string makes every path relative to it")
    func chroot() async throws {
        let plain = try await ZK.client()
        let root = try await ZK.root(plain)
        let connect = ProcessInfo.processInfo.environment["ZOOKEEPER_CONNECT"]!
        let chrooted = try await ZooKeeperClient.connect(.init(connectString: connect + root))
        let path = try await chrooted.create("/inside", data: .utf8("c"))
        #expect(path == "/inside")
        #expect(try await plain.get(root + "/inside").data == .utf8("c"))
        #expect(try await chrooted.children("/") == ["inside"])
        await chrooted.close()
        await ZK.deleteTree(plain, root)
        await plain.close()
    }

    @Test("several hosts in the connect string: one dead host is skipped")
    func severalHosts() async throws {
        let connect = ProcessInfo.processInfo.environment["ZOOKEEPER_CONNECT"] ?? "127.0.0.1:2181"
        // Port 1 on loopback refuses connections; the client moves on to the live server.
        let zk = try await ZooKeeperClient.connect(.init(connectString: "127.0.0.1:1," + connect))
        #expect(zk.sessionState == .connected)
        #expect(try await zk.exists("/") != nil)
        #expect(zk.connectedServer == connect)
        await zk.close()
    }

    @Test("close ends the session; later calls fail with .closed; closing twice is fine")
    func closeThenCall() async throws {
        let zk = try await ZK.client()
        #expect(zk.session != nil)
        await zk.close()
        await zk.close()
        #expect(zk.sessionState == .closed)
        let error = await ZK.error { _ = try await zk.exists("/") }
        #expect(error?.code == .closed)
    }

    @Test("close while calls are in flight ends each of them, none hangs")
    func closeWithCallsInFlight() async throws {
        let log = CapturingLogHandler()
        let zk = try await ZK.client { $0.logger = Logger(label: "closing") { _ in log } }
        let root = try await ZK.root(zk)
        let outcomes = await withTaskGroup(of: String.self) { group in
            for i in 0..<200 {
                group.addTask {
                    do {
                        try await zk.create("\(root)/n\(i)")
                        return "ok"
                    } catch let error as ZooKeeperError {
                        return error.code.description
                    } catch {
                        return "other"
                    }
                }
            }
            group.addTask {
                await zk.close()
                return "closed-call"
            }
            var all: [String] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        #expect(outcomes.count == 201)
        let unexpected = outcomes.filter { !["ok", "closed", "closing", "connectionLoss", "closed-call"].contains($0) }
        #expect(unexpected.isEmpty, "unexpected outcomes: \(unexpected)")
        // The C client 3.8 drops (and leaks) the calls still in flight when its handle closes
        // (ZOOKEEPER-2894): close() waits for the server's answers, so none is left.
        let closeLines = log.captured.filter { $0.message.hasPrefix("ZooKeeper handle closed") }
        #expect(closeLines.map { $0.metadata["zookeeper.unanswered"] } == ["0"], "\(closeLines)")
        let cleaner = try await ZK.client()
        await ZK.deleteTree(cleaner, root)
        await cleaner.close()
    }

    @Test("dropping a client without close() is safe and ends its session")
    func dropWithoutClose() async throws {
        let observer = try await ZK.client()
        let root = try await ZK.root(observer)
        do {
            let dropped = try await ZK.client()
            try await dropped.create(root + "/eph", mode: .ephemeral)
        }
        // The session is closed in the background; its ephemeral node goes with it.
        var gone = false
        for _ in 0..<50 where !gone {
            gone = try await observer.exists(root + "/eph") == nil
            if !gone { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(gone)
        await ZK.deleteTree(observer, root)
        await observer.close()
    }
}

extension ZooKeeperOperationTests {
    @Test("a call made from a cancelled task ends with .cancelled and is not sent")
    func cancelledBeforeStart() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await ZK.error { try await zk.create(root + "/never") }
        }
        #expect(await task.value?.code == .cancelled)
        #expect(try await zk.exists(root + "/never") == nil)
        await ZK.deleteTree(zk, root)
        await zk.close()
    }
}
