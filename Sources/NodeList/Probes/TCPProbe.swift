import NIOCore
import NIOPosix

/// Alive = a TCP connection to the node's `host:port` address is accepted within the timeout.
public struct TCPProbe: NodeProbe {
    /// The per-attempt timeout used when the store does not pass one (500 ms).
    public var timeout: Duration
    private let group: any EventLoopGroup

    /// Creates a TCP probe.
    /// - Parameters:
    ///   - timeout: The connect timeout; the store passes its own `probeTimeout` per attempt,
    ///     and the shorter of both applies. Defaults to 500 ms.
    ///   - eventLoopGroup: Defaults to NIO's shared singleton group.
    public init(timeout: Duration = .milliseconds(500), eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.timeout = timeout
        self.group = eventLoopGroup
    }

    /// One probe attempt (see ``NodeProbe/probe(_:timeout:)``).
    public func probe(_ node: ClusterNode, timeout: Duration) async -> Bool {
        guard let (host, port) = node.hostAndPort else { return false }
        let limit = min(timeout, self.timeout)
        let group = self.group
        do {
            let result = try await withDeadline(limit) { () -> Bool in
                let channel = try await ClientBootstrap(group: group)
                    .connectTimeout(.nanoseconds(Int64(limit.components.seconds) * 1_000_000_000
                        + limit.components.attoseconds / 1_000_000_000))
                    .connect(host: host, port: port).get()
                try? await channel.close()
                return true
            }
            return result ?? false
        } catch {
            return false
        }
    }
}
