import Coordination
import Consul

extension CoordinationStore {
    /// The recipes over a Consul client (each lock, candidate or entry gets a session of its own).
    /// - Parameters:
    ///   - client: the client; it must stay open while the recipes are used.
    ///   - configuration: TTL, lock-delay, node checks and logging; default `Configuration()`.
    public static func consul(_ client: ConsulClient, configuration: Configuration = .init()) -> CoordinationStore {
        CoordinationStore(backend: ConsulCoordinationBackend(client: client, configuration: configuration),
                          configuration: configuration)
    }
}
