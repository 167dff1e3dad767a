#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the real stores of an integration test are.
///
/// `scripts/test.sh` starts ZooKeeper and etcd on loopback and exports their
/// addresses. Without them a store test is skipped — unless
/// `AUTOCLUSTER_REQUIRE_STORES=1` (set by `.ci/run`), where it fails instead.
public enum TestStores {
    /// The error a test throws when its store is required but not configured.
    public struct MissingStore: Error, CustomStringConvertible {
        public let variable: String
        public var description: String {
            "\(variable) is not set but AUTOCLUSTER_REQUIRE_STORES=1 — start the stores with "
                + "`env=$(scripts/start-stores.sh) && eval \"$env\"` or run scripts/test.sh"
        }
    }

    public static func environment(_ name: String) -> String? {
        TestLogCapture.installIfRequested()
        guard let value = getenv(name) else { return nil }
        let string = String(cString: value)
        return string.isEmpty ? nil : string
    }

    /// Whether a missing store fails the test instead of skipping it.
    public static var required: Bool { environment("AUTOCLUSTER_REQUIRE_STORES") == "1" }

    /// `ZOOKEEPER_CONNECT`: the standalone ZooKeeper, e.g. `127.0.0.1:2181`.
    public static var zooKeeperConnect: String? { environment("ZOOKEEPER_CONNECT") }
    /// `ZOOKEEPER_ENSEMBLE_CONNECT`: the 3-server ensemble of `start-stores.sh --cluster`.
    public static var zooKeeperEnsembleConnect: String? { environment("ZOOKEEPER_ENSEMBLE_CONNECT") }
    /// `ETCD_ENDPOINTS`: comma-separated endpoints of the single-member etcd.
    public static var etcdEndpoints: [String]? { environment("ETCD_ENDPOINTS").map(split) }
    /// `ETCD_CLUSTER_ENDPOINTS`: the 3-member etcd cluster of `start-stores.sh --cluster`.
    public static var etcdClusterEndpoints: [String]? { environment("ETCD_CLUSTER_ENDPOINTS").map(split) }
    /// `CONSUL_HTTP_ADDR`: a real Consul agent (docker compose), when there is one.
    public static var consulAddress: String? { environment("CONSUL_HTTP_ADDR") }
    /// `AUTOCLUSTER_STORES_DIR`: where start-stores.sh keeps pid files, logs and data.
    public static var storesDirectory: String? { environment("AUTOCLUSTER_STORES_DIR") }

    /// The one allowance a timing bound adds to the deadline it checks: time for the event loop
    /// or C thread that fires the deadline to run, and for the test to see the outcome. 1 s: on
    /// the 2-core machine these tests run on, shared with other builds, a deadline timer fires up
    /// to a few hundred milliseconds late. Under a sanitizer (`AUTOCLUSTER_SANITIZER`, which
    /// scripts/test.sh sets for its sanitizer runs) the code runs 5–15× slower, so there it is 3 s.
    public static var timingSlack: Duration {
        environment("AUTOCLUSTER_SANITIZER") == nil ? .seconds(1) : .seconds(3)
    }

    /// True when a test of this store should run: the store is configured, or it is required
    /// (then the test runs and fails on the missing configuration).
    public static func shouldRun(_ value: Any?) -> Bool { value != nil || required }

    /// The configured value, or a `MissingStore` error naming the variable.
    public static func require<T>(_ value: T?, _ variable: String) throws -> T {
        guard let value else { throw MissingStore(variable: variable) }
        return value
    }

    private static func split(_ s: String) -> [String] {
        s.split(separator: ",").map { String($0) }
    }
}
