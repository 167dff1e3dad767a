import Logging

extension CoordinationStore {
    /// How the recipes of one store behave.
    public struct Configuration: Sendable {
        /// The TTL of the session each lock, candidate or presence entry is bound to: the etcd
        /// lease's TTL and the Consul session's TTL (Consul accepts 10 s to 24 h). ZooKeeper uses
        /// the client's session timeout instead. Default 15 seconds.
        public var ttl: Duration = .seconds(15)
        /// Consul's lock-delay of a lock's session: after the session is invalidated, nobody can
        /// take the lock for this long, so a holder that has not yet noticed its loss does not
        /// overlap with the next one. Default 15 seconds, as Consul's own default. `.zero` disables it.
        public var consulLockDelay: Duration = .seconds(15)
        /// The node checks a Consul session is tied to. Default `nil`: Consul's `["serfHealth"]`;
        /// `[]` ties it to none (a TTL-only session).
        public var consulNodeChecks: [String]?
        /// ZooKeeper: treat a dropped connection as the loss of a held lock or leadership, the
        /// moment it drops (the server may expire the session before the client reconnects, and
        /// then another contender holds the lock). A contender that only waits keeps waiting
        /// through a drop (its node survives unless the session expires). Presence entries are
        /// only lost on expiry. Default `true`.
        public var zooKeeperLossOnDisconnect = true
        /// Where the recipes log (at `.debug` for per-event detail). Default: a logger labelled
        /// `autocluster.coordination`.
        public var logger = Logger(label: "autocluster.coordination")

        /// The defaults.
        public init() {}
    }
}
