/// The leader of an election as observers see it (``LeaderElection/observe()``).
public struct Leader: Sendable, Hashable {
    /// The value the leader campaigned with (e.g. its name or address).
    public var value: [UInt8]
    /// The leader's fencing token: the same number its ``HeldLock/token`` has.
    public var token: UInt64

    /// The value as UTF-8 text.
    public var string: String { String(decoding: value, as: UTF8.self) }

    /// Creates a leader.
    public init(value: [UInt8], token: UInt64) {
        self.value = value
        self.token = token
    }
}
