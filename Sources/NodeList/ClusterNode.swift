import Foundation

/// One member of the cluster, as it is stored in the node list.
///
/// A node is identified by its ``name``; its ``incarnation`` tells two runs of the same name
/// apart, so an entry left behind by a crashed run is replaced, never duplicated, when the node
/// comes back.
public struct ClusterNode: Sendable, Hashable, CustomStringConvertible {
    /// The node's unique name in the cluster (for example `"n1"`).
    public var name: String
    /// Where the node answers probes and cluster traffic, `host:port` (IPv6 as `[::1]:7001`).
    public var address: String
    /// An identifier of this run of the node; a restart gets a new one.
    public var incarnation: String
    /// When this incarnation joined; entries younger than the sweep grace period are never swept.
    public var joinedAt: Date
    /// Free-form string attributes (zone, version, …) stored with the entry.
    public var metadata: [String: String]

    /// Creates a node.
    /// - Parameters:
    ///   - name: The node's unique name.
    ///   - address: `host:port` where it answers.
    ///   - incarnation: This run's identifier; defaults to a fresh random UUID.
    ///   - joinedAt: Defaults to now; kept to the millisecond (what the JSON stores).
    ///   - metadata: Extra attributes; defaults to none.
    public init(
        name: String,
        address: String,
        incarnation: String = UUID().uuidString.lowercased(),
        joinedAt: Date = Date(),
        metadata: [String: String] = [:]
    ) {
        self.name = name
        self.address = address
        self.incarnation = incarnation
        self.joinedAt = Date(timeIntervalSince1970: (joinedAt.timeIntervalSince1970 * 1000).rounded() / 1000)
        self.metadata = metadata
    }

    /// `name@address`.
    public var description: String { "\(name)@\(address)" }

    /// The host and port of ``address``, or nil when it is not `host:port`.
    public var hostAndPort: (host: String, port: Int)? {
        ClusterNode.splitHostPort(address)
    }

    /// Splits `host:port` / `[v6]:port`.
    static func splitHostPort(_ address: String) -> (host: String, port: Int)? {
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]") else { return nil }
            let host = String(address[address.index(after: address.startIndex)..<close])
            let rest = address[address.index(after: close)...]
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port), !host.isEmpty
            else { return nil }
            return (host, port)
        }
        guard let colon = address.lastIndex(of: ":") else { return nil }
        let host = String(address[..<colon])
        guard !host.isEmpty, !host.contains(":"), let port = Int(address[address.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        return (host, port)
    }
}
