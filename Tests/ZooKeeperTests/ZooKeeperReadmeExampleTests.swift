import Foundation
import Logging
import Testing
import ZooKeeper

/// The README's ZooKeeper example, verbatim except for the connect string (a fresh chroot).
@Suite("ZooKeeper README example", .enabled(if: ZK.enabled), .timeLimit(.minutes(1)))
struct ZooKeeperReadmeExampleTests {
    @Test("the README example runs")
    func readmeExample() async throws {
        let setup = try await ZK.client()
        let root = try await ZK.root(setup)
        let connect = ProcessInfo.processInfo.environment["ZOOKEEPER_CONNECT"]!

        // --- README (connect string changed) ---
        var configuration = ZooKeeperClient.Configuration(connectString: connect + root, sessionTimeout: .seconds(10))
        configuration.operationTimeout = .seconds(5)              // deadline of every call (default 10 s)
        configuration.authentication = [(scheme: "digest", credentials: "app:secret")]
        configuration.logger = Logger(label: "zookeeper")          // the C library logs here too, never to stderr
        let zk = try await ZooKeeperClient.connect(configuration)

        // Create, read, compare-and-swap.
        try await zk.create("/config", data: Array("v1".utf8), mode: .persistent, acl: .creatorAll)
        let (data, stat) = try await zk.get("/config")
        print(String(decoding: data, as: UTF8.self))                // v1
        do {
            try await zk.set("/config", data: Array("v2".utf8), version: stat.version)
        } catch let error as ZooKeeperError where error.code == .badVersion {
            // someone else changed it since we read it: re-read and retry
        }

        // Ephemeral, sequential members: gone when the session ends.
        try await zk.create("/members")
        let me = try await zk.create("/members/m-", data: Array("10.0.0.5:7001".utf8), mode: .ephemeralSequential)

        // Watches re-arm themselves: every change arrives as a new value.
        let configWatch = Task {
            for try await event in zk.watch("/config") {      // .initial, .created, .changed, .deleted
                print(event.kind, event.data.map { String(decoding: $0, as: UTF8.self) } ?? "<no node>")
            }
        }
        let membersWatch = Task {
            for try await event in zk.watchChildren("/members") {
                print("members:", event.children ?? [])
            }
        }
        let sessionWatch = Task {
            for await state in zk.sessionEvents {              // connected, connecting, expired, …, closed
                if state == .expired { /* a new session follows: re-create your ephemeral nodes */ }
            }
        }

        // All or nothing.
        let version = try await zk.get("/config").stat.version
        try await zk.multi([
            .check("/config", version: version),
            .set("/config", data: Array("v3".utf8), version: version),
            .delete(me),
        ])

        await zk.close()                                         // ends the watches and sessionEvents too
        _ = (try? await configWatch.value, try? await membersWatch.value, await sessionWatch.value)
        // --- end of README ---

        #expect(data == Array("v1".utf8))
        try await setup.addAuth(scheme: "digest", credentials: "app:secret")
        #expect(try await setup.get(root + "/config").data == Array("v3".utf8))
        #expect(try await setup.children(root + "/members") == [])
        await ZK.deleteTree(setup, root)
        await setup.close()
    }
}
