import AutoCluster
import Consul
import ConsulStandIn
import Coordination
import Etcd
import Foundation
import StoreTestSupport
import Testing
import ZooKeeper

/// The store a coordination test runs on.
enum StoreKind: String, Sendable, CustomStringConvertible {
    case etcd, zooKeeper, consul
    var description: String { rawValue }
}

/// Whether the tests of each store run (Consul always: the stand-in, unless CONSUL_HTTP_ADDR).
enum Stores {
    static var etcdEnabled: Bool { TestStores.shouldRun(TestStores.etcdEndpoints) }
    static var zooKeeperEnabled: Bool { TestStores.shouldRun(TestStores.zooKeeperConnect) }
    static let consulEnabled = true
}

/// `count` independent clients of one store (each its own connection and session), with a
/// coordination store over each, and a key prefix no other test uses.
final class Harness: Sendable {
    let kind: StoreKind
    let stores: [CoordinationStore]
    let etcdClients: [EtcdClient]
    let zooKeeperClients: [ZooKeeperClient]
    let consulClients: [ConsulClient]
    let standIn: ConsulStandIn?
    let prefix: String

    private init(kind: StoreKind, stores: [CoordinationStore], etcd: [EtcdClient], zooKeeper: [ZooKeeperClient],
                 consul: [ConsulClient], standIn: ConsulStandIn?, prefix: String) {
        self.kind = kind
        self.stores = stores
        self.etcdClients = etcd
        self.zooKeeperClients = zooKeeper
        self.consulClients = consul
        self.standIn = standIn
        self.prefix = prefix
    }

    func key(_ name: String) -> String { prefix + "/" + name }

    static func make(_ kind: StoreKind, clients count: Int, zooKeeperSessionTimeout: Duration = .seconds(10),
                     configure: (inout CoordinationStore.Configuration) -> Void = { _ in }) async throws -> Harness {
        var configuration = CoordinationStore.Configuration()
        configuration.consulNodeChecks = []
        configure(&configuration)
        let prefix = "/autocluster-tests/coordination/\(UUID().uuidString.prefix(8).lowercased())"
        switch kind {
        case .etcd:
            let endpoints = try TestStores.require(TestStores.etcdEndpoints, "ETCD_ENDPOINTS")
            var clients: [EtcdClient] = []
            for _ in 0..<count {
                var etcdConfiguration = EtcdClient.Configuration(endpoints: endpoints)
                etcdConfiguration.timeouts = .init(connect: .seconds(3), request: .seconds(10))
                clients.append(try await EtcdClient.connect(etcdConfiguration))
            }
            return Harness(kind: kind, stores: clients.map { .etcd($0, configuration: configuration) }, etcd: clients,
                           zooKeeper: [], consul: [], standIn: nil, prefix: prefix)
        case .zooKeeper:
            let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
            var clients: [ZooKeeperClient] = []
            for _ in 0..<count {
                var zkConfiguration = ZooKeeperClient.Configuration(connectString: connect, sessionTimeout: zooKeeperSessionTimeout)
                zkConfiguration.operationTimeout = .seconds(10)
                clients.append(try await ZooKeeperClient.connect(zkConfiguration))
            }
            return Harness(kind: kind, stores: clients.map { .zooKeeper($0, configuration: configuration) }, etcd: [],
                           zooKeeper: clients, consul: [], standIn: nil, prefix: prefix)
        case .consul:
            var standIn: ConsulStandIn?
            let address: String
            if let real = TestStores.consulAddress {
                address = real
            } else {
                var options = ConsulStandIn.Options()
                options.minimumSessionTTL = .seconds(1)
                let started = try await ConsulStandIn.start(options: options)
                standIn = started
                address = started.address
            }
            let clients = (0..<count).map { _ in ConsulClient(.init(address: address)) }
            return Harness(kind: kind, stores: clients.map { .consul($0, configuration: configuration) }, etcd: [],
                           zooKeeper: [], consul: clients, standIn: standIn, prefix: prefix)
        }
    }

    func close() async {
        for client in etcdClients { await client.close() }
        for client in zooKeeperClients { await client.close() }
        for client in consulClients { try? await client.shutdown() }
        try? await standIn?.shutdown()
    }

    /// Runs `body` with a fresh harness and always closes it.
    static func with(_ kind: StoreKind, clients: Int, zooKeeperSessionTimeout: Duration = .seconds(10),
                     configure: (inout CoordinationStore.Configuration) -> Void = { _ in },
                     _ body: (Harness) async throws -> Void) async throws {
        let harness = try await make(kind, clients: clients, zooKeeperSessionTimeout: zooKeeperSessionTimeout, configure: configure)
        do {
            try await body(harness)
        } catch {
            await harness.close()
            throw error
        }
        await harness.close()
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
func eventually(_ timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// The first event of a held lock, or nil when none came within `timeout`.
func firstEvent(_ held: HeldLock, within timeout: Duration) async -> LockEvent? {
    await withTaskGroup(of: LockEvent?.self) { group in
        group.addTask {
            for await event in held.events { return event }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
