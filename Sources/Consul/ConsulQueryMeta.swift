import NIOHTTP1

/// What Consul says about a read besides its result: the `X-Consul-Index` a blocking query
/// waits on, and, for stale reads, how fresh the answering server is.
public struct ConsulQueryMeta: Sendable, Hashable {
    /// `X-Consul-Index`: the index of the data the answer reflects; pass it as `waitIndex`
    /// to wait for the next change. 0 when Consul sent none.
    public var index: UInt64
    /// `X-Consul-KnownLeader`: whether the answering server knew of a leader.
    public var knownLeader: Bool?
    /// `X-Consul-LastContact`: how long since the answering server heard from the leader
    /// (0 on the leader).
    public var lastContact: Duration?

    /// Creates query metadata.
    public init(index: UInt64, knownLeader: Bool? = nil, lastContact: Duration? = nil) {
        self.index = index
        self.knownLeader = knownLeader
        self.lastContact = lastContact
    }

    init(headers: HTTPHeaders) {
        self.index = headers.first(name: "X-Consul-Index").flatMap(UInt64.init) ?? 0
        self.knownLeader = headers.first(name: "X-Consul-KnownLeader").map { $0.lowercased() == "true" }
        self.lastContact = headers.first(name: "X-Consul-LastContact").flatMap(Int64.init).map { .milliseconds($0) }
    }
}

/// The answer to a read, with its query metadata (the index to block on next).
public struct ConsulQueryResult<Value: Sendable>: Sendable {
    /// The result.
    public var value: Value
    /// The metadata; `meta.index` is the index to pass as the next `waitIndex`.
    public var meta: ConsulQueryMeta
    /// `meta.index`, the `X-Consul-Index` of the answer.
    public var index: UInt64 { meta.index }

    /// Creates a result.
    public init(value: Value, meta: ConsulQueryMeta) {
        self.value = value
        self.meta = meta
    }
}

/// The answer to a blocking read of one key: `value` is `nil` when the key does not exist.
public typealias ConsulBlockingResult = ConsulQueryResult<ConsulKeyValue?>
