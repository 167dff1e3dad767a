import AutoCluster
import Coordination
import Logging
import ServiceLifecycle
import StoreTestSupport
import Testing

/// Campaign, observe, resign; and the leader-only `Service`.
@Suite("Leader election")
struct ElectionTests {
    @Test("etcd: observers see each leader in turn, with its value and token", .enabled(if: Stores.etcdEnabled))
    func etcdObserve() async throws { try await observe(.etcd) }

    @Test("ZooKeeper: observers see each leader in turn, with its value and token", .enabled(if: Stores.zooKeeperEnabled))
    func zooKeeperObserve() async throws { try await observe(.zooKeeper) }

    @Test("Consul (against the stand-in): observers see each leader in turn, with its value and token", .enabled(if: Stores.consulEnabled))
    func consulObserve() async throws { try await observe(.consul) }

    func observe(_ kind: StoreKind) async throws {
        try await Harness.with(kind, clients: 4) { harness in
            let key = harness.key("election")
            let seen = TestMutex<[Leader?]>([])
            let observer = Task {
                for try await leader in harness.stores[3].election(key).observe() {
                    seen.withLock { $0.append(leader) }
                }
            }
            #expect(await eventually(.seconds(5)) { seen.withLock { $0.first == .some(nil) } }, "first observation: nobody leads")
            let a = try await harness.stores[0].election(key, value: Array("a".utf8)).campaign(deadline: .now + .seconds(10))
            let bCampaign = Task { try await harness.stores[1].election(key, value: Array("b".utf8)).campaign() }
            try await Task.sleep(for: .milliseconds(300))
            #expect(await eventually(.seconds(5)) { seen.withLock { $0.last??.string == "a" } }, "observed: \(seen.withLock { $0 })")
            #expect(try await harness.stores[2].election(key).leader() == Leader(value: Array("a".utf8), token: a.token))

            try await a.release()  // resign
            let b = try await bCampaign.value
            #expect(b.token > a.token)
            #expect(await eventually(.seconds(5)) { seen.withLock { $0.last??.string == "b" } }, "observed: \(seen.withLock { $0 })")
            #expect(seen.withLock { $0.last??.token } == b.token)
            try await b.release()
            #expect(await eventually(.seconds(5)) { seen.withLock { $0.last == .some(nil) } }, "observed: \(seen.withLock { $0 })")
            observer.cancel()
            _ = await observer.result
        }
    }

    @Test("etcd: LeaderService — one body at a time; a crashed leader's successor within TTL + slack", .enabled(if: Stores.etcdEnabled))
    func etcdService() async throws { try await service(.etcd) }

    @Test("ZooKeeper: LeaderService — one body at a time; a crashed leader's successor within the session timeout + slack", .enabled(if: Stores.zooKeeperEnabled))
    func zooKeeperService() async throws { try await service(.zooKeeper) }

    /// Two `LeaderService`s; the leader's client is closed without resigning (etcd: its lease is
    /// no longer renewed, as after a crash; ZooKeeper: its session ends).
    func service(_ kind: StoreKind) async throws {
        let ttl = Duration.seconds(3)
        try await Harness.with(kind, clients: 2, zooKeeperSessionTimeout: ttl, configure: { $0.ttl = ttl }) { harness in
            let key = harness.key("service")
            let running = TestMutex<(now: Int, most: Int, leaders: [Int])>((0, 0, []))
            func body(_ index: Int) -> @Sendable (HeldLock) async throws -> Void {
                { _ in
                    running.withLock { state in
                        state.now += 1
                        state.most = max(state.most, state.now)
                        state.leaders.append(index)
                    }
                    defer { running.withLock { $0.now -= 1 } }
                    try await Task.sleep(for: .seconds(3600))
                }
            }
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let services = (0..<2).map { index in
                LeaderService(election: harness.stores[index].election(key, value: Array("\(index)".utf8)),
                              retryDelay: .milliseconds(100), logger: logger, body: body(index))
            }
            let tasks = services.map { service in Task { try await service.run() } }
            #expect(await eventually(.seconds(10)) { running.withLock { $0.leaders.count == 1 } })
            let first = try #require(running.withLock { $0.leaders.first })
            let crashedAt = ContinuousClock.now
            switch kind {
            case .etcd: await harness.etcdClients[first].close()
            case .zooKeeper: await harness.zooKeeperClients[first].close()
            case .consul: try await harness.consulClients[first].shutdown()
            }
            #expect(await eventually(ttl + .seconds(3)) { running.withLock { $0.leaders.count == 2 } },
                    "no new leader within TTL + 3 s: \(running.withLock { $0.leaders })")
            let elapsed = ContinuousClock.now - crashedAt
            #expect(running.withLock { $0.leaders } == [first, 1 - first])
            #expect(running.withLock { $0.most } == 1, "two leader-only bodies ran at once")
            print("[\(kind)] new leader \(elapsed) after the old leader's client closed (TTL \(ttl))")
            for task in tasks { task.cancel() }
            for task in tasks { _ = await task.result }
        }
    }
}

@Suite("LeaderService shutdown (against the stand-in)")
struct LeaderServiceShutdownTests {
    @Test("graceful shutdown cancels the leader-only body and resigns")
    func gracefulShutdown() async throws {
        try await Harness.with(.consul, clients: 2) { harness in
            let key = harness.key("shutdown")
            let bodyState = TestMutex<(started: Bool, cancelled: Bool)>((false, false))
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let service = LeaderService(election: harness.stores[0].election(key, value: Array("me".utf8)), logger: logger) { _ in
                bodyState.withLock { $0.started = true }
                do { try await Task.sleep(for: .seconds(3600)) } catch {
                    bodyState.withLock { $0.cancelled = true }
                    throw error
                }
            }
            let group = ServiceGroup(services: [service], logger: logger)
            let running = Task { try await group.run() }
            #expect(await eventually(.seconds(10)) { bodyState.withLock { $0.started } })
            #expect(try await harness.stores[1].election(key).leader()?.string == "me")
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(bodyState.withLock { $0.cancelled }, "the body was not cancelled")
            #expect(try await harness.stores[1].election(key).leader() == nil, "the service did not resign")
        }
    }
}
