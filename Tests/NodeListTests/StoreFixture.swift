import AutoCluster
import ConsulStandIn
import Foundation
import NodeList
import StoreTestSupport
import Consul
import Etcd
import ZooKeeper

/// The real stores the behaviour suite runs against.
enum StoreKind: String, Sendable, CustomStringConvertible {
    case zooKeeper = "zookeeper"
    case etcd
    case consul

    var description: String { rawValue }

    /// The stores whose backend ships in this build.
    static let available: [StoreKind] = [.zooKeeper, .etcd, .consul]

    /// Whether a test of this store runs: it is configured, or required (then the test runs and
    /// fails on the missing store). Consul always runs: its stand-in when no agent is configured.
    var enabled: Bool {
        switch self {
        case .zooKeeper: TestStores.shouldRun(TestStores.zooKeeperConnect)
        case .etcd: TestStores.shouldRun(TestStores.etcdEndpoints)
        case .consul: true
        }
    }

    /// Whether a test over every store in `available` runs. A trait cannot skip one argument of
    /// a parameterized test, so a test over all stores skips as a whole when one is missing —
    /// visibly, and never under `AUTOCLUSTER_REQUIRE_STORES=1`.
    static var allEnabled: Bool { available.allSatisfy(\.enabled) }
}

/// One test's connection to a real store: each `backend()` opens a new client (so concurrent
/// joiners do not share one), and `shutdown()` closes them all. Consul is a real agent when
/// `CONSUL_HTTP_ADDR` is set, otherwise the in-test `ConsulStandIn`.
final class StoreFixture: Sendable {
    let kind: StoreKind
    /// A key no other test uses.
    let key: String
    private let standIn: ConsulStandIn?
    private let closers = TestMutex<[@Sendable () async -> Void]>([])

    private init(kind: StoreKind, standIn: ConsulStandIn?) {
        self.kind = kind
        self.standIn = standIn
        self.key = "/autocluster-test/\(UUID().uuidString.lowercased())/nodes"
    }

    /// The fixture; a missing store throws `TestStores.MissingStore` (tests skip through an
    /// `.enabled(if: StoreKind.allEnabled)` trait before they get here, unless the stores are
    /// required).
    static func make(_ kind: StoreKind) async throws -> StoreFixture {
        switch kind {
        case .zooKeeper:
            _ = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
            return StoreFixture(kind: kind, standIn: nil)
        case .etcd:
            _ = try TestStores.require(TestStores.etcdEndpoints, "ETCD_ENDPOINTS")
            return StoreFixture(kind: kind, standIn: nil)
        case .consul:
            if TestStores.consulAddress != nil { return StoreFixture(kind: kind, standIn: nil) }
            return StoreFixture(kind: kind, standIn: try await ConsulStandIn.start())
        }
    }

    /// The store URL the `autocluster` command takes for this store.
    var storeURL: String {
        switch kind {
        case .zooKeeper: "zookeeper://" + TestStores.zooKeeperConnect!
        case .etcd: TestStores.etcdEndpoints!.map { $0.replacingOccurrences(of: "http://", with: "etcd://") }.joined(separator: ",")
        case .consul:
            // CONSUL_HTTP_ADDR may come without a scheme (127.0.0.1:8500).
            "consul://" + (standIn?.address ?? TestStores.consulAddress!).replacingOccurrences(of: "http://", with: "")
        }
    }

    /// A new client and its backend.
    func backend() async throws -> any NodeListBackend {
        switch kind {
        case .zooKeeper:
            let client = try await ZooKeeperClient.connect(.init(connectString: TestStores.zooKeeperConnect!))
            closers.withLock { $0.append { await client.close() } }
            return ZooKeeperNodeListBackend(client: client)
        case .etcd:
            let client = try await EtcdClient.connect(.init(endpoints: TestStores.etcdEndpoints!))
            closers.withLock { $0.append { await client.close() } }
            return EtcdNodeListBackend(client: client)
        case .consul:
            var address = standIn?.address ?? TestStores.consulAddress!
            if !address.contains("://") { address = "http://" + address }
            let client = ConsulClient(.init(address: address))
            closers.withLock { $0.append { try? await client.shutdown() } }
            return ConsulNodeListBackend(client: client)
        }
    }

    /// A store over a new client.
    func store(
        probe: any NodeProbe = NoProbe(), configure: (inout NodeListStore.Configuration) -> Void = { _ in }
    ) async throws -> NodeListStore {
        var configuration = NodeListStore.Configuration()
        configuration.probeTimeout = .seconds(3)
        configure(&configuration)
        return NodeListStore(backend: try await backend(), key: key, probe: probe, configuration: configuration)
    }

    func shutdown() async {
        let all = closers.withLock { closers in
            defer { closers = [] }
            return closers
        }
        for close in all { await close() }
        try? await standIn?.shutdown()
    }
}
