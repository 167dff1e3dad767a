import AutoCluster
import Consul
import Coordination
import Logging
import ServiceLifecycle
import StoreTestSupport
import Testing

/// The README's "Coordination recipes" example, run against the Consul stand-in, so it stays true.
@Suite("Coordination README example")
struct ReadmeExampleTests {
    @Test("the README example works (against the stand-in)")
    func readmeExample() async throws {
        try await Harness.with(.consul, clients: 1) { harness in
            let store = harness.stores[0]
            let p = harness.prefix
            let report = Report()

            try await store.lock(p + "/locks/nightly-report").withLock(deadline: .now + .seconds(30)) { held in
                try await report.write(fencingToken: held.token)
            }
            #expect(report.tokens.count == 1)

            let held = try await store.lock(p + "/locks/reindex").acquire(timeout: .seconds(10))
            let events = Task { () -> [LockEvent] in
                var seen: [LockEvent] = []
                for await event in held.events { seen.append(event) }
                return seen
            }
            try await held.release()
            #expect(await events.value == [.released])

            let election = store.election(p + "/elections/scheduler", value: Array("node-1".utf8))
            let leaders = TestMutex<[String]>([])
            let observer = Task {
                for try await leader in election.observe() { leaders.withLock { $0.append(leader?.string ?? "none") } }
            }
            let leadership = try await election.campaign()
            #expect(await eventually(.seconds(5)) { leaders.withLock { $0.last == "node-1" } })
            try await leadership.release()
            #expect(await eventually(.seconds(5)) { leaders.withLock { $0.last == "none" } })
            observer.cancel()

            let scheduler = LeaderService(election: election) { leadership in
                try await report.write(fencingToken: leadership.token)
            }
            try await scheduler.run()  // the body returns: the service resigns and returns
            #expect(report.tokens.count == 2)

            let workers = store.presence(p + "/presence/workers")
            let me = try await workers.join(name: "worker-1", value: Array("10.0.0.5:7001".utf8))
            var members = workers.watch().makeAsyncIterator()
            #expect(try await members.next()?.map(\.name) == ["worker-1"])
            try await me.release()
            #expect(try await members.next()?.map(\.name) == [])
        }
    }
}

/// Stands in for the README's resource that takes fencing tokens.
final class Report: Sendable {
    private let written = TestMutex<[UInt64]>([])
    func write(fencingToken: UInt64) async throws { written.withLock { $0.append(fencingToken) } }
    var tokens: [UInt64] { written.withLock { $0 } }
}
