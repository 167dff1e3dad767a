import Metrics

extension NodeListStore {
    /// How a `NodeListStore` probes, sweeps and retries. Every property has a default.
    public struct Configuration: Sendable {
        /// How long the probe of one node may take, all its attempts together: a node that does not
        /// answer within it is dead, so a join costs at most one probe timeout however many
        /// listed nodes are dead. Default: 500 ms.
        public var probeTimeout: Duration = .milliseconds(500)
        /// Failed attempts (within one join or sweep, and within ``probeTimeout``) before a node
        /// counts as dead: a failure that comes back early (connection refused, an HTTP error) is
        /// tried again while time is left. Default: 2.
        public var probeAttempts: Int = 2
        /// How many nodes are probed at the same time. Default: 16.
        public var probeConcurrency: Int = 16
        /// Entries younger than this are never swept, however they answer. Default: 10 s.
        public var sweepGracePeriod: Duration = .seconds(10)
        /// Whether to sweep when *no* listed node answers. Off by default: then the joiner
        /// assumes it is the one cut off and sweeps nothing.
        public var sweepWhenNoneRespond: Bool = false
        /// The most entries the list may hold; a join past it throws `.tooManyNodes`. Default: 1000.
        public var maxNodes: Int = 1000
        /// Compare-and-swap attempts before `.contention` is thrown. Default: 64.
        public var maxCASAttempts: Int = 64
        /// The wait between conflicting compare-and-swap attempts. Default: ``Backoff/init(initial:maximum:multiplier:jitter:)``'s defaults.
        public var backoff: Backoff = Backoff()
        /// What to do with a stored value that does not decode. Default: ``CorruptValuePolicy/fail``.
        public var corruptValuePolicy: CorruptValuePolicy = .fail
        /// Where the counters and the join timer go. Default: nil, the bootstrapped
        /// `MetricsSystem.factory`.
        public var metricsFactory: (any MetricsFactory)? = nil

        /// The defaults.
        public init() {}
    }

    /// Jittered exponential backoff between compare-and-swap retries.
    public struct Backoff: Sendable, Hashable {
        /// The first wait's upper bound. Default: 5 ms.
        public var initial: Duration
        /// The largest wait. Default: 500 ms.
        public var maximum: Duration
        /// The growth per attempt. Default: 2.
        public var multiplier: Double
        /// The random part of each wait, 0…1: 1 is "full jitter" (anywhere in 0…bound),
        /// 0 waits exactly the bound. Default: 1.
        public var jitter: Double

        /// Creates a backoff.
        public init(initial: Duration = .milliseconds(5), maximum: Duration = .milliseconds(500), multiplier: Double = 2, jitter: Double = 1) {
            self.initial = initial
            self.maximum = maximum
            self.multiplier = multiplier
            self.jitter = min(max(jitter, 0), 1)
        }

        /// The wait before retry number `attempt` (1-based).
        public func delay(attempt: Int) -> Duration {
            let initialSeconds = Self.seconds(initial)
            let bound = min(Self.seconds(maximum), initialSeconds * pow(multiplier, Double(max(attempt - 1, 0))))
            let wait = bound * (1 - jitter) + bound * jitter * Double.random(in: 0...1)
            return .nanoseconds(Int64(wait * 1e9))
        }

        static func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }

        private func pow(_ base: Double, _ exp: Double) -> Double {
            var result = 1.0
            for _ in 0..<Int(min(exp, 64)) { result *= base }
            return result
        }
    }

    /// What a `NodeListStore` does with a stored value that does not decode.
    public enum CorruptValuePolicy: Sendable, Hashable {
        /// Throw `NodeListError` `.corruptValue` and leave the value untouched (the default).
        case fail
        /// Replace it, by compare-and-swap against exactly the corrupt version, with a fresh list.
        case replaceCorrupt
    }
}

/// What a join did.
public struct JoinOutcome: Sendable, Hashable {
    /// The first responsive node `connect` succeeded with; nil when the list was created or no
    /// other node answered.
    public var seed: ClusterNode?
    /// The nodes removed because they did not answer.
    public var swept: [ClusterNode]
    /// The list as written (or found, when nothing had to change).
    public var nodes: [ClusterNode]
    /// Compare-and-swap (or create) attempts it took, 1 without contention.
    public var attempts: Int
    /// True when this join created the list.
    public var created: Bool
    /// The stored version after the join.
    public var version: UInt64

    /// Creates an outcome.
    public init(seed: ClusterNode?, swept: [ClusterNode], nodes: [ClusterNode], attempts: Int, created: Bool, version: UInt64) {
        self.seed = seed
        self.swept = swept
        self.nodes = nodes
        self.attempts = attempts
        self.created = created
        self.version = version
    }
}
