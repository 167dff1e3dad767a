import Logging

/// An open store client and the node-list backend over it, made from a ``StoreURL``.
///
/// This is what the `autocluster` command uses; services usually build their client themselves
/// and pass `.zooKeeper(client)`, `.etcd(client)` or `.consul(client)` to ``NodeListStore``.
public struct StoreConnection: Sendable {
    /// Where it is connected.
    public let url: StoreURL
    /// The backend over the client.
    public let backend: any NodeListBackend
    private let closeClient: @Sendable () async -> Void

    /// Wraps an open backend and how to close its client.
    public init(url: StoreURL, backend: any NodeListBackend, close: @escaping @Sendable () async -> Void) {
        self.url = url
        self.backend = backend
        self.closeClient = close
    }

    /// Closes the client.
    public func close() async { await closeClient() }
}
