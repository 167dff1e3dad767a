import Foundation
import Testing
import ZooKeeper

/// `multi` and `sync` against the real ZooKeeper.
@Suite("ZooKeeper multi and sync", .enabled(if: ZK.enabled), .timeLimit(.minutes(2)))
struct ZooKeeperMultiTests {
    @Test("a successful multi applies every operation and returns one result per operation")
    func success() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        try await zk.create(root + "/existing", data: .utf8("old"))
        try await zk.create(root + "/doomed")
        let results = try await zk.multi([
            .check(root + "/existing", version: 0),
            .create(root + "/new", data: .utf8("n")),
            .create(root + "/seq-", mode: .persistentSequential),
            .set(root + "/existing", data: .utf8("new"), version: 0),
            .delete(root + "/doomed", version: 0),
        ])
        #expect(results.count == 5)
        #expect(results[0] == .checked)
        #expect(results[1] == .created(path: root + "/new"))
        guard case .created(let sequential) = results[2] else { Issue.record("not a create: \(results[2])"); return }
        #expect(sequential.hasPrefix(root + "/seq-") && sequential.count == (root + "/seq-").count + 10)
        guard case .set(let stat) = results[3] else { Issue.record("not a set: \(results[3])"); return }
        #expect(stat.version == 1)
        #expect(results[4] == .deleted)
        #expect(try await zk.get(root + "/existing").data == .utf8("new"))
        #expect(try await zk.get(root + "/new").data == .utf8("n"))
        #expect(try await zk.exists(root + "/doomed") == nil)
        #expect(try await zk.multi([]) == [])
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("a failed multi applies nothing and says which operation failed and why")
    func atomicFailure() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        try await zk.create(root + "/a", data: .utf8("a"))
        let error = await ZK.error {
            try await zk.multi([
                .create(root + "/b", data: .utf8("b")),
                .set(root + "/a", data: .utf8("changed")),
                .check(root + "/a", version: 7),
                .delete(root + "/a"),
            ])
        }
        #expect(error?.code == .badVersion)
        #expect(error?.failedOperationIndex == 2)
        #expect(error?.path == root + "/a")
        #expect(error?.message.contains("#2") == true)
        #expect(error?.message.contains("no operation of the multi was applied") == true)
        #expect(try await zk.exists(root + "/b") == nil, "the create before the failing check was rolled back")
        #expect(try await zk.get(root + "/a").data == .utf8("a"), "the set before the failing check was rolled back")

        let missing = await ZK.error {
            try await zk.multi([.create(root + "/c"), .delete(root + "/nope")])
        }
        #expect(missing?.code == .noNode)
        #expect(missing?.failedOperationIndex == 1)
        #expect(try await zk.exists(root + "/c") == nil)

        let exists = await ZK.error { try await zk.multi([.create(root + "/a")]) }
        #expect(exists?.code == .nodeExists)
        #expect(exists?.failedOperationIndex == 0)
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("concurrent compare-and-swap through multi: exactly one writer wins each round")
    func casContention() async throws {
        let root: String
        do {
            let setup = try await ZK.client()
            root = try await ZK.root(setup)
            try await setup.create(root + "/counter", data: .utf8("0"))
            await setup.close()
        }
        let clients = try await withThrowingTaskGroup(of: ZooKeeperClient.self) { group in
            for _ in 0..<4 { group.addTask { try await ZK.client() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // Every client increments 10 times with check+set; conflicts retry.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for zk in clients {
                group.addTask {
                    var done = 0
                    while done < 10 {
                        let (data, stat) = try await zk.get(root + "/counter")
                        let value = Int(String(decoding: data, as: UTF8.self))!
                        do {
                            try await zk.multi([.check(root + "/counter", version: stat.version),
                                                .set(root + "/counter", data: .utf8("\(value + 1)"), version: stat.version)])
                            done += 1
                        } catch let error as ZooKeeperError where error.code == .badVersion {
                            continue
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let (data, stat) = try await clients[0].get(root + "/counter")
        #expect(String(decoding: data, as: UTF8.self) == "40")
        #expect(stat.version == 40)
        await ZK.deleteTree(clients[0], root)
        for zk in clients { await zk.close() }
    }

    @Test("sync succeeds for existing and missing paths")
    func sync() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        try await zk.sync(root)
        try await zk.sync(root + "/not-there")
        try await zk.sync("/")
        await ZK.deleteTree(zk, root)
        await zk.close()
    }
}
