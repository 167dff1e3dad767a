import AutoCluster
import Coordination
import Foundation
import StoreTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `autocluster lock KEY -- COMMAND…` and `autocluster elect KEY --name NAME`, as processes.
@Suite("autocluster lock and elect")
struct CommandTests {
    /// The store URL of a harness for the command line.
    static func url(_ harness: Harness) throws -> String {
        switch harness.kind {
        case .etcd: "etcd://" + (try TestStores.require(TestStores.etcdEndpoints, "ETCD_ENDPOINTS")).map { $0.replacingOccurrences(of: "http://", with: "") }.joined(separator: ",")
        case .zooKeeper: "zookeeper://" + (try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT"))
        case .consul: "consul://" + (harness.standIn?.address ?? TestStores.consulAddress ?? "").replacingOccurrences(of: "http://", with: "")
        }
    }

    @Test("etcd: lock runs the command with the token and exits with its status", .enabled(if: Stores.etcdEnabled))
    func etcdLock() async throws { try await lock(.etcd) }

    @Test("ZooKeeper: lock runs the command with the token and exits with its status", .enabled(if: Stores.zooKeeperEnabled))
    func zooKeeperLock() async throws { try await lock(.zooKeeper) }

    @Test("Consul (against the stand-in): lock runs the command with the token and exits with its status", .enabled(if: Stores.consulEnabled))
    func consulLock() async throws { try await lock(.consul) }

    func lock(_ kind: StoreKind) async throws {
        try await Harness.with(kind, clients: 1) { harness in
            let key = harness.key("cli-lock")
            let url = try Self.url(harness)
            // While the command runs, the lock is held: tryAcquire from here fails.
            let running = try CommandRunner.start(["lock", key, "--store", url, "--ttl", "5s", "--", "sh", "-c",
                                                   "echo token=$AUTOCLUSTER_LOCK_TOKEN; sleep 1; exit 7"])
            #expect(await eventually(.seconds(10)) { running.stdout.contains("token=") }, "stderr: \(running.stderr)")
            #expect(try await harness.stores[0].lock(key).tryAcquire() == nil, "the lock was free while the command ran")
            let result = try await running.wait(timeout: .seconds(20))
            #expect(result.status == 7, "stderr: \(result.stderr)")
            let token = UInt64(result.stdout.split(separator: "=").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
            #expect(token != nil && token! > 0, "stdout: \(result.stdout)")
            // Released when the command exited.
            let after = try #require(try await harness.stores[0].lock(key).tryAcquire(), "the lock was not released")
            #expect(after.token > token ?? 0)
            try await after.release()
        }
    }

    @Test("etcd: lock kills the command when the lock is lost, exit status 1", .enabled(if: Stores.etcdEnabled))
    func etcdLockLost() async throws {
        try await Harness.with(.etcd, clients: 1) { harness in
            let key = harness.key("cli-lost")
            let running = try CommandRunner.start(["lock", key, "--store", try Self.url(harness), "--ttl", "5s",
                                                   "--kill-grace", "1s", "--", "sh", "-c", "echo started; exec sleep 600"])
            #expect(await eventually(.seconds(10)) { running.stdout.contains("started") }, "stderr: \(running.stderr)")
            let client = harness.etcdClients[0]
            let entry = try #require(try await client.range(prefix: key + "/").kvs.first)
            try await client.delete(entry.keyString)
            let started = ContinuousClock.now
            let result = try await running.wait(timeout: .seconds(20))
            #expect(result.status == 1)
            #expect(result.stderr.contains("was lost"), "stderr: \(result.stderr)")
            // Bound: the watch round trip + the 1 s kill grace + 2 s slack.
            #expect(ContinuousClock.now - started < .seconds(3))
        }
    }

    @Test("etcd: elect — leader SIGKILLed, the other candidate leads within the lease TTL + 2 s", .enabled(if: Stores.etcdEnabled))
    func etcdElectKilled() async throws { try await electKilled(.etcd, extra: ["--ttl", "3s"], bound: .seconds(3) + .seconds(2)) }

    @Test("ZooKeeper: elect — leader SIGKILLed, the other candidate leads within the session timeout (10 s) + 3 s", .enabled(if: Stores.zooKeeperEnabled))
    func zooKeeperElectKilled() async throws { try await electKilled(.zooKeeper, extra: [], bound: .seconds(10) + .seconds(3)) }

    @Test("Consul (against the stand-in): elect — leader SIGKILLed, the other leads within 2 × TTL + lock-delay + 2 s", .enabled(if: Stores.consulEnabled))
    func consulElectKilled() async throws {
        // A 2 s TTL: the candidates renew every TTL/3 and give up after TTL without a confirmed
        // renewal, which a busy machine can approach with a shorter one.
        try await electKilled(.consul, extra: ["--ttl", "2s", "--lock-delay", "1s"], bound: .seconds(4) + .seconds(1) + .seconds(2))
    }

    /// Two `autocluster elect` candidates; the leader is SIGKILLed (it cannot resign); an
    /// in-process observer and the surviving candidate both see the other take over.
    func electKilled(_ kind: StoreKind, extra: [String], bound: Duration) async throws {
        try await Harness.with(kind, clients: 1) { harness in
            let key = harness.key("cli-elect")
            let url = try Self.url(harness)
            let seen = TestMutex<[String?]>([])
            let observer = Task {
                for try await leader in harness.stores[0].election(key).observe() { seen.withLock { $0.append(leader?.string) } }
            }
            let a = try CommandRunner.start(["elect", key, "--name", "a", "--store", url] + extra)
            #expect(await eventually(.seconds(10)) { a.stdout.contains("leader a token") && a.stdout.contains("(me)") }, "a: \(a.stdout) \(a.stderr)")
            let b = try CommandRunner.start(["elect", key, "--name", "b", "--store", url] + extra)
            #expect(await eventually(.seconds(10)) { b.stdout.contains("leader a token") }, "b: \(b.stdout) \(b.stderr)")
            a.signal(SIGKILL)
            let killedAt = ContinuousClock.now
            _ = try await a.wait(timeout: .seconds(5))
            #expect(await eventually(bound + .seconds(1)) { seen.withLock { $0.last == "b" } }, "observed: \(seen.withLock { $0 })")
            let elapsed = ContinuousClock.now - killedAt
            #expect(elapsed <= bound, "the new leader came \(elapsed) after the SIGKILL (bound \(bound))")
            #expect(await eventually(.seconds(2)) { b.stdout.contains("leader b token") && b.stdout.contains("(me)") }, "b: \(b.stdout)")
            print("[\(kind)] elect: new leader \(elapsed) after the leader's SIGKILL")
            b.signal(SIGTERM)
            let ended = try await b.wait(timeout: .seconds(10))
            #expect(ended.status == 0, "b exited \(ended.status): \(ended.stderr)")
            // b resigned on SIGTERM.
            #expect(await eventually(.seconds(3)) { seen.withLock { $0.last == .some(nil) } }, "observed: \(seen.withLock { $0 })")
            observer.cancel()
            _ = await observer.result
        }
    }
}
