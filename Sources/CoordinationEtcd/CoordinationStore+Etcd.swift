import Coordination
import Etcd

extension CoordinationStore {
    /// The recipes over an etcd client.
    /// - Parameters:
    ///   - client: a connected client; it must stay open while the recipes are used.
    ///   - configuration: TTLs and logging; default `Configuration/init()`.
    public static func etcd(_ client: EtcdClient, configuration: Configuration = .init()) -> CoordinationStore {
        CoordinationStore(backend: EtcdCoordinationBackend(client: client, configuration: configuration),
                          configuration: configuration)
    }
}
