import Logging

extension StoreConnection {
    /// Connects the client for `url` and wraps it in its node-list backend.
    /// - Parameters:
    ///   - url: The store.
    ///   - logger: Passed to the client.
    /// - Throws: ``NodeListError`` `.storeFailure` when the store cannot be reached.
    public static func open(_ url: StoreURL, logger: Logger = Logger(label: "autocluster.store")) async throws -> StoreConnection {
        switch url.kind {
        case .zooKeeper, .etcd, .consul:
            throw NodeListError(
                code: .unsupported,
                message: "the \(url.kind.rawValue) backend is not part of this build yet")
        }
    }
}
