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
        /// An observer never votes against an entry it has known for less than this, measured on
        /// its own monotonic clock from when it first saw the entry (a re-added node is a new
        /// incarnation, so it gets a fresh grace period). Default: 10 s.
        public var sweepGracePeriod: Duration = .seconds(10)
        /// How long an *isolated* listed observer (it reaches no strict majority of the list) must
        /// have found an entry dead without a break before the survivor rule lets it remove the
        /// entry — and only when the entry shows no sign of life (no vote against a node the
        /// observer reaches). Must be longer than every member's refresh interval plus the probe
        /// timeout, so a live node on the far side of a partition has voted by then; with the other defaults
        /// (5 s refresh, 500 ms probes) a crashed node is then gone within `sweepGracePeriod` + 2 refresh
        /// intervals even when only one member survives. Default: 8 s.
        public var survivorDelay: Duration = .seconds(8)
        /// The clocks ages are measured with. Default: ``SystemNodeListClock``.
        public var clock: any NodeListClock = SystemNodeListClock()
        /// The most entries the list may hold; a join past it throws `.tooManyNodes`. Default: 1000.
        public var maxNodes: Int = 1000
        /// Compare-and-swap attempts before `.contention` is thrown. Default: 64.
        public var maxCASAttempts: Int = 64
        /// The wait between conflicting compare-and-swap attempts. Default: `Backoff/init(initial:maximum:multiplier:jitter:)`'s defaults.
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
        /// The smallest bound of a wait. Default: 1 ms.
        public var initial: Duration
        /// The largest wait. Default: 2 s.
        public var maximum: Duration
        /// The growth per attempt. Default: 2.
        public var multiplier: Double
        /// The random part of each wait, 0…1: 1 is "full jitter" (anywhere in 0…bound),
        /// 0 waits exactly the bound. Default: 1.
        public var jitter: Double
        /// The first bound in units of the conflicting attempt's own latency (its round trip,
        /// queueing in the store included, which grows with the number of writers): contenders
        /// spread over a window that scales with the contention they see. Default: 8.
        public var latencyMultiple: Double
        /// The most the growth per conflict (`multiplier^(conflict−1)`) may multiply that first
        /// bound by. The latency already grows with the number of writers, so unbounded growth
        /// only adds a long tail: the unluckiest of many joiners would wait seconds. Default: 8.
        public var maximumGrowth: Double

        /// Creates a backoff.
        public init(
            initial: Duration = .milliseconds(1), maximum: Duration = .seconds(2), multiplier: Double = 2, jitter: Double = 1,
            latencyMultiple: Double = 8, maximumGrowth: Double = 8
        ) {
            self.initial = initial
            self.maximum = maximum
            self.multiplier = multiplier
            self.jitter = min(max(jitter, 0), 1)
            self.latencyMultiple = max(latencyMultiple, 0)
            self.maximumGrowth = max(maximumGrowth, 1)
        }

        /// The upper bound of the wait after conflict number `conflict` (1-based) of an attempt
        /// that took `latency`: `max(initial, latencyMultiple × latency) ×
        /// min(multiplier^(conflict−1), maximumGrowth)`, at most `maximum`.
        public func bound(conflict: Int, latency: Duration) -> Duration {
            let base = max(Self.seconds(initial), latencyMultiple * Self.seconds(latency))
            let growth = min(pow(multiplier, Double(max(conflict - 1, 0))), maximumGrowth)
            let bound = min(Self.seconds(maximum), base * growth)
            return .nanoseconds(Int64(bound * 1e9))
        }

        /// A jittered wait below `bound`, from `random` (0…1).
        public func wait(bound: Duration, random: Double) -> Duration {
            let seconds = Self.seconds(bound)
            return .nanoseconds(Int64((seconds * (1 - jitter) + seconds * jitter * min(max(random, 0), 1)) * 1e9))
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
    /// True when the joiner reached no strict majority of the list: it swept nothing and called
    /// no `connect`, and was added only under ``IsolatedJoinPolicy/add``.
    public var isolated: Bool
    /// Responsive listed nodes, the joiner included.
    public var responsive: Int
    /// Listed nodes, the joiner included.
    public var listed: Int
    /// False when nothing was written (``IsolatedJoinPolicy/wait`` while isolated).
    public var added: Bool

    /// Creates an outcome.
    public init(
        seed: ClusterNode?, swept: [ClusterNode], nodes: [ClusterNode], attempts: Int, created: Bool, version: UInt64,
        isolated: Bool = false, responsive: Int = 1, listed: Int = 1, added: Bool = true
    ) {
        self.seed = seed
        self.swept = swept
        self.nodes = nodes
        self.attempts = attempts
        self.created = created
        self.version = version
        self.isolated = isolated
        self.responsive = responsive
        self.listed = listed
        self.added = added
    }
}
