/// Service health across the datacenter (`/v1/health`), reached through `ConsulClient.health`.
public struct ConsulHealth: Sendable {
    let client: ConsulClient

    /// The instances of a service with their checks (`GET /v1/health/service/:name`).
    /// - Parameters:
    ///   - name: the service's name.
    ///   - passingOnly: only instances whose checks all pass (`?passing`). Default `false`.
    ///   - tag: only instances with this tag. Default none.
    ///   - consistency: the read's consistency mode; default the configuration's.
    /// - Throws: `ConsulError`.
    public func service(
        _ name: String, passingOnly: Bool = false, tag: String? = nil, consistency: ConsulConsistency? = nil
    ) async throws -> [ConsulServiceEntry] {
        try await service(name, passingOnly: passingOnly, tag: tag, waitIndex: nil, wait: nil, consistency: consistency)
            .value
    }

    /// The instances of a service, as a blocking query when `waitIndex` and `wait` are given:
    /// returns when the service's health changes past `waitIndex` or `wait` elapses.
    /// - Throws: `ConsulError`.
    public func service(
        _ name: String, passingOnly: Bool = false, tag: String? = nil, waitIndex: UInt64?, wait: Duration?,
        consistency: ConsulConsistency? = nil
    ) async throws -> ConsulQueryResult<[ConsulServiceEntry]> {
        guard !name.isEmpty else { throw ConsulError(.invalidArgument, message: "the service name is empty") }
        var query = client.readQuery(consistency: consistency, waitIndex: waitIndex, wait: wait)
        if passingOnly { query.append(("passing", nil)) }
        if let tag { query.append(("tag", tag)) }
        let response = try await client.send(
            .GET, "/v1/health/service/" + ConsulClient.escapePath(name), query: query,
            blockingWait: waitIndex == nil ? nil : wait, operation: "health.service")
        return .init(value: try response.decode([ConsulServiceEntry]?.self) ?? [], meta: response.meta)
    }

    /// Watches a service's instances: the current list, then the list after each change.
    /// - Parameters:
    ///   - name: the service's name.
    ///   - passingOnly: only instances whose checks all pass. Default `false`.
    ///   - wait: the `wait` of each blocking query. Default 60 seconds.
    /// - Returns: an `AsyncSequence` of `[ConsulServiceEntry]` (same rules as `ConsulKVWatch`).
    public func watchService(_ name: String, passingOnly: Bool = false, wait: Duration = .seconds(60))
        -> ConsulHealthWatch
    {
        ConsulHealthWatch(health: self, name: name, passingOnly: passingOnly, wait: wait)
    }
}

/// A service's instances over time, driven by blocking queries (see `ConsulKVWatch` for the rules).
public struct ConsulHealthWatch: AsyncSequence, Sendable {
    /// The instances after a change.
    public typealias Element = [ConsulServiceEntry]

    let health: ConsulHealth
    let name: String
    let passingOnly: Bool
    let wait: Duration

    /// Creates the iterator; each iterator runs its own blocking queries.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(loop: BlockingLoop(wait: wait) { [health, name, passingOnly] index, wait in
            try await health.service(name, passingOnly: passingOnly, waitIndex: index, wait: wait)
        })
    }

    /// The iterator of a `ConsulHealthWatch`.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var loop: BlockingLoop<[ConsulServiceEntry]>

        /// The next list of instances: the current one first, then each change.
        /// - Returns: `nil` when the task was cancelled.
        /// - Throws: `ConsulError` for failures that retrying cannot fix.
        public mutating func next() async throws -> [ConsulServiceEntry]? {
            try await loop.next()
        }
    }
}
