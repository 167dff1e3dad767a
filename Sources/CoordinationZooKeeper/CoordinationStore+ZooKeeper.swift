import Coordination
import ZooKeeper

extension CoordinationStore {
    /// The recipes over a ZooKeeper client (its session is the one locks are bound to).
    /// - Parameters:
    ///   - client: a connected client; it must stay open while the recipes are used.
    ///   - configuration: loss policy and logging; default `Configuration/init()`.
    public static func zooKeeper(_ client: ZooKeeperClient, configuration: Configuration = .init()) -> CoordinationStore {
        CoordinationStore(backend: ZooKeeperCoordinationBackend(client: client, configuration: configuration),
                          configuration: configuration)
    }
}
