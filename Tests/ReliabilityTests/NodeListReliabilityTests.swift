import AutoCluster
import Consul
import ConsulStandIn
import Etcd
import Foundation
import NodeList
import StoreTestSupport
import Testing
import ZooKeeper

/// One client of a store for node-list tests, with what closes it.
struct NodeListTarget: Sendable {
    var backend: any NodeListBackend
    /// Writes raw bytes to `key`, as another (buggy or hostile) client would.
    var writeRaw: @Sendable (String, [UInt8]) async throws -> Void
    var close: @Sendable () async -> Void

    enum Kind: String, CaseIterable, Sendable, CustomStringConvertible {
        case zooKeeper, etcd, consul
        var description: String { rawValue }
        var enabled: Bool {
            switch self {
            case .zooKeeper: TestStores.shouldRun(TestStores.zooKeeperConnect)
            case .etcd: TestStores.shouldRun(TestStores.etcdEndpoints)
            case .consul: true  // the in-test stand-in when no real Consul is configured
            }
        }
        /// A trait cannot skip one argument, so a test over every store skips as a whole
        /// (visibly) when one is missing, instead of silently dropping that store's case.
        static var allEnabled: Bool { allCases.allSatisfy(\.enabled) }
    }

    static func make(_ kind: Kind, standIn: ConsulStandIn?) async throws -> NodeListTarget {
        switch kind {
        case .zooKeeper:
            let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
            let client = try await ZooKeeperClient.connect(.init(connectString: connect))
            return NodeListTarget(backend: ZooKeeperNodeListBackend(client: client),
                                  writeRaw: { key, bytes in _ = try await client.set(key, data: bytes) },
                                  close: { await client.close() })
        case .etcd:
            let endpoints = try TestStores.require(TestStores.etcdEndpoints, "ETCD_ENDPOINTS")
            let client = try await EtcdClient.connect(.init(endpoints: endpoints))
            return NodeListTarget(backend: EtcdNodeListBackend(client: client),
                                  writeRaw: { key, bytes in _ = try await client.put(key, value: bytes) },
                                  close: { await client.close() })
        case .consul:
            var address = standIn?.address ?? TestStores.consulAddress ?? ""
            if !address.contains("://") { address = "http://" + address }
            let client = ConsulClient(.init(address: address))
            return NodeListTarget(backend: ConsulNodeListBackend(client: client),
                                  writeRaw: { key, bytes in _ = try await client.kv.put(String(key.drop(while: { $0 == "/" })), value: bytes) },
                                  close: { try? await client.shutdown() })
        }
    }
}

@Suite("NodeListStore under interference and with security on", .timeLimit(.minutes(3)))
struct NodeListReliabilityTests {
    static func node(_ name: String, port: Int = 7000) -> ClusterNode {
        ClusterNode(name: name, address: "127.0.0.1:\(port)")
    }

    @Test("the value corrupted by another client between the join's read and its write: conflict, re-read, .corruptValue; never overwritten silently",
          .enabled(if: NodeListTarget.Kind.allEnabled, "needs ZOOKEEPER_CONNECT and ETCD_ENDPOINTS (scripts/test.sh)"),
          arguments: NodeListTarget.Kind.allCases)
    func corruptedBetweenReadAndWrite(_ kind: NodeListTarget.Kind) async throws {
        let standIn = kind == .consul && TestStores.consulAddress == nil ? try await ConsulStandIn.start() : nil
        let target = try await NodeListTarget.make(kind, standIn: standIn)
        let key = "/autocluster-reliability/corrupt-\(UUID().uuidString.prefix(8))"
        let garbage = Array(#"{"format":1,"nodes":[{"name":42}]"#.utf8)  // wrong type, truncated

        let first = NodeListStore(backend: target.backend, key: key, probe: NoProbe())
        try await first.join(Self.node("a", port: 7001))

        // B's join reads the list, then probes "a" — and during that probe another client
        // overwrites the value with garbage. B's compare-and-swap must lose, re-read, and stop.
        let corrupter = Locked(false)
        let probe = ClosureProbe { _, _ in
            let first = corrupter.withLock { done -> Bool in defer { done = true }; return !done }
            if first { try await target.writeRaw(key, garbage) }
            return true
        }
        var slowProbe = NodeListStore.Configuration()
        slowProbe.probeTimeout = .seconds(20)  // the probe does the interfering write
        let second = NodeListStore(backend: target.backend, key: key, probe: probe, configuration: slowProbe)
        let error = await expectError(NodeListError.self) { try await second.join(Self.node("b", port: 7002)) }
        #expect(error?.code == .corruptValue, "\(String(describing: error))")
        #expect(error?.bytes == garbage, "the error carries the stored bytes")
        #expect(error?.version != nil)
        #expect(corrupter.value, "the probe ran between read and write")
        #expect(try await target.backend.read(key: key)?.bytes == garbage, "the corrupt value was not overwritten")

        // Reading says the same, clearly.
        let readError = await expectError(NodeListError.self) { _ = try await first.nodes() }
        #expect(readError?.code == .corruptValue)
        #expect(readError?.message.isEmpty == false)

        // Opting in replaces it — by compare-and-swap against that exact version.
        var replacing = NodeListStore.Configuration()
        replacing.corruptValuePolicy = .replaceCorrupt
        let third = NodeListStore(backend: target.backend, key: key, probe: NoProbe(), configuration: replacing)
        try await third.join(Self.node("c", port: 7003))
        #expect(try await first.nodes().map(\.name) == ["c"])
        await target.close()
        try await standIn?.shutdown()
    }

    @Test("wrong types in the stored JSON are .corruptValue for every read and join, whatever the store",
          .enabled(if: NodeListTarget.Kind.allEnabled, "needs ZOOKEEPER_CONNECT and ETCD_ENDPOINTS (scripts/test.sh)"),
          arguments: NodeListTarget.Kind.allCases)
    func wrongTypes(_ kind: NodeListTarget.Kind) async throws {
        let standIn = kind == .consul && TestStores.consulAddress == nil ? try await ConsulStandIn.start() : nil
        let target = try await NodeListTarget.make(kind, standIn: standIn)
        let documents: [[UInt8]] = [
            Array(#"{"format":"1","nodes":[]}"#.utf8),
            Array(#"{"format":1,"nodes":{}}"#.utf8),
            Array(#"{"format":1,"nodes":[{"name":"a","address":7,"incarnation":"x","joinedAt":"2026-01-01T00:00:00Z"}]}"#.utf8),
            Array(#"{"format":1,"nodes":[{"name":"a","address":"h:1","incarnation":"x","joinedAt":"yesterday"}]}"#.utf8),
            Array(#"{"format":99,"nodes":[]}"#.utf8),
            Array("[]".utf8), Array("null".utf8), [], [0xff, 0xfe, 0x00], Array(#"{"format":1,"nodes":["#.utf8),
        ]
        let store = NodeListStore(backend: target.backend, key: "/autocluster-reliability/types-\(UUID().uuidString.prefix(8))", probe: NoProbe())
        try await store.join(Self.node("seed"))
        for bytes in documents {
            try await target.writeRaw(store.key, bytes)
            let read = await expectError(NodeListError.self) { _ = try await store.nodes() }
            #expect(read?.code == .corruptValue, "\(String(decoding: bytes, as: UTF8.self).debugDescription): \(String(describing: read))")
            let join = await expectError(NodeListError.self) { try await store.join(Self.node("x")) }
            #expect(join?.code == .corruptValue)
            #expect(try await target.backend.read(key: store.key)?.bytes == bytes, "never overwritten")
        }
        await target.close()
        try await standIn?.shutdown()
    }

    @Test("NodeListStore over etcd with TLS (test CA) and over etcd with authentication", .enabled(if: Secure.tlsEnabled && Secure.authEnabled))
    func etcdSecure() async throws {
        let logs = LogCapture()
        let password = try Secure.password()
        let tlsClient = try await EtcdClient.connect(EtcdSecurityTests.configuration(
            try TestStores.require(Secure.tlsEndpoint, "ETCD_TLS_ENDPOINT"), tls: .init(caFile: try Secure.file("ca.pem")), logs: logs))
        let authClient = try await EtcdClient.connect(EtcdSecurityTests.configuration(
            try TestStores.require(Secure.authEndpoint, "ETCD_AUTH_ENDPOINT"), tls: nil,
            credentials: .init(username: try TestStores.require(Secure.authUser, "ETCD_AUTH_USER"), password: password), logs: logs))
        for client in [tlsClient, authClient] {
            let key = "/autocluster-reliability/secure-\(UUID().uuidString.prefix(8))"
            let store = NodeListStore(backend: EtcdNodeListBackend(client: client), key: key, probe: NoProbe(), logger: logs.logger("reliability.nodelist"))
            let outcome = try await store.join(Self.node("n1", port: 7101))
            #expect(outcome.created)
            try await store.join(Self.node("n2", port: 7102))
            #expect(try await store.nodes().map(\.name) == ["n1", "n2"])
            #expect(try await store.leave(name: "n1"))
            #expect(try await store.nodes().map(\.name) == ["n2"])
            _ = try await client.delete(key)
            await client.close()
        }
        // Without credentials the auth member refuses the node list clearly.
        let anonymous = try await EtcdClient.connect(EtcdSecurityTests.configuration(
            try TestStores.require(Secure.authEndpoint, "ETCD_AUTH_ENDPOINT"), tls: nil, logs: logs))
        let store = NodeListStore(backend: EtcdNodeListBackend(client: anonymous), key: "/autocluster-reliability/anon", probe: NoProbe())
        let error = await expectError(NodeListError.self) { try await store.join(Self.node("intruder")) }
        #expect(error?.code == .accessDenied, "\(String(describing: error))")
        #expect(error?.message.contains("password") == true, "the message says what to pass")
        #expect((error?.underlying as? EtcdError)?.code == .unauthenticated, "\(String(describing: error?.underlying))")
        await anonymous.close()
        logs.expectNoSecrets([password])
    }

    @Test("a node list guarded by a digest ACL: unreadable and unwritable without the credentials, usable with them",
          .enabled(if: TestStores.shouldRun(TestStores.zooKeeperConnect)))
    func zooKeeperDigestACL() async throws {
        let logs = LogCapture()
        let user = "svc-\(UUID().uuidString.prefix(6))"
        let password = "pw-\(UUID().uuidString)"
        let acl = ZooKeeperACL.entries([.digest(user: user, password: password)])
        let root = "/" + uniqueName("nodelist-acl")
        let key = root + "/members"
        let admin = try await ZooKeeperSecurityTests.client(logs, authentication: [(scheme: "digest", credentials: "\(user):\(password)")])
        try await admin.create(root, acl: acl)
        // The list as an operator provisions it: guarded by the digest ACL.
        try await admin.create(key, data: NodeListDocument(nodes: [Self.node("n1", port: 7201)]).encoded(), acl: acl)

        let stranger = try await ZooKeeperSecurityTests.client(logs)
        let denied = NodeListStore(backend: ZooKeeperNodeListBackend(client: stranger), key: key, probe: NoProbe())
        for (what, call) in [
            ("nodes", { _ = try await denied.nodes() }),
            ("join", { try await denied.join(Self.node("intruder", port: 7299)) }),
            ("leave", { _ = try await denied.leave(name: "n1") }),
        ] as [(String, () async throws -> Void)] {
            let error = await expectError(NodeListError.self, call)
            #expect(error?.code == .accessDenied, "\(what): \(String(describing: error))")
            #expect(error?.message.contains("credentials") == true, "\(what): the message says what to pass")
            #expect((error?.underlying as? ZooKeeperError)?.code == .noAuth, "\(what): \(String(describing: error?.underlying))")
        }
        #expect(try NodeListDocument.decode(try await admin.get(key).data, version: 0).nodes.map(\.name) == ["n1"], "nothing changed")

        let member = try await ZooKeeperSecurityTests.client(logs, authentication: [(scheme: "digest", credentials: "\(user):\(password)")])
        let allowed = NodeListStore(backend: ZooKeeperNodeListBackend(client: member), key: key, probe: NoProbe())
        try await allowed.join(Self.node("n2", port: 7202))
        #expect(try await allowed.nodes().map(\.name) == ["n1", "n2"])
        #expect(try await member.getACL(key).acl == [.digest(user: user, password: password)], "the ACL is kept by the CAS writes")

        // The list znode has its generation child (ZooKeeperNodeListBackend): delete the tree.
        try await SecureNodeListTests.deleteTree(admin, root)
        for client in [admin, stranger, member] { await client.close() }
        logs.expectNoSecrets([password])
    }

    @Test("ZooKeeper session expired in the middle of a join: the join fails clearly or succeeds; retried, the node is listed exactly once",
          .enabled(if: TestStores.shouldRun(TestStores.zooKeeperConnect)))
    func sessionExpiredMidJoin() async throws {
        let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
        var configuration = ZooKeeperClient.Configuration(connectString: connect, sessionTimeout: .seconds(6))
        configuration.operationTimeout = .seconds(5)
        let zk = try await ZooKeeperClient.connect(configuration)
        let key = "/" + uniqueName("expire") + "/list"
        let store = NodeListStore(backend: ZooKeeperNodeListBackend(client: zk), key: key, probe: NoProbe())
        try await store.join(Self.node("a", port: 7301))
        let sessionBefore = try #require(zk.session)
        TestSecrets.registerZooKeeperSession(password: sessionBefore.password)

        // During the join's probe round, the session is ended by the server (another client
        // resuming it and closing it is how ZooKeeper's own tests expire a session).
        let expired = Locked(false)
        let thiefError = Locked<String?>(nil)
        let probe = ClosureProbe { _, _ in
            let first = expired.withLock { done -> Bool in defer { done = true }; return !done }
            if first {
                // The original client may take its session back before the thief's close is
                // sent; then try again (a few times) until the session is really gone.
                for _ in 0..<5 where zk.session?.id == sessionBefore.id {
                    do {
                        var other = ZooKeeperClient.Configuration(connectString: connect, sessionTimeout: .seconds(6))
                        other.session = sessionBefore
                        let thief = try await ZooKeeperClient.connect(other)
                        await thief.close()
                        thiefError.withLock { $0 = nil }
                    } catch let error as ZooKeeperError where error.code == .sessionExpired {
                        break  // already gone
                    } catch {
                        thiefError.withLock { $0 = "\(error)" }
                    }
                    _ = await retryUntil(.seconds(3)) {
                        _ = try? await zk.exists("/")
                        if zk.session?.id == sessionBefore.id { throw TestServerError("same session") }
                    }
                }
            }
            return true
        }
        var slowProbe = NodeListStore.Configuration()
        slowProbe.probeTimeout = .seconds(25)  // the probe is where the session is ended
        let joining = NodeListStore(backend: ZooKeeperNodeListBackend(client: zk), key: key, probe: probe, configuration: slowProbe)
        let (result, elapsed) = await timed { try await joining.join(Self.node("b", port: 7302)) }
        #expect(expired.value)
        #expect(thiefError.value == nil, "could not end the session: \(thiefError.value ?? "")")
        #expect(elapsed < .seconds(40))
        if let error = result.failureIfAny {
            #expect((error as? NodeListError)?.code == .storeFailure, "\(error)")
            // The client opened a new session by itself; the join can simply be retried.
            let retried = await retryUntil(.seconds(20)) { try await joining.join(Self.node("b", port: 7302)) }
            #expect(retried)
        }
        // The client may learn of the expiry only at its next request or ping: nudge it.
        let replaced = await retryUntil(.seconds(15)) {
            _ = try await zk.exists(key)
            if zk.session?.id == sessionBefore.id { throw TestServerError("same session") }
        }
        #expect(replaced, "a new session replaced the expired one")
        let names = try await store.nodes().map(\.name)
        #expect(names.sorted() == ["a", "b"], "\(names)")
        try await SecureNodeListTests.deleteTree(zk, key)
        await zk.close()
    }
}
