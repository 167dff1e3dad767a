import NIOCore
import NIOPosix

/// Alive = `GET http://ADDRESS/PATH` answers with a 2xx status within the timeout.
public struct HTTPProbe: NodeProbe {
    /// The path requested, e.g. `/health`.
    public var path: String
    /// The per-attempt timeout used when the store does not pass a shorter one (1 s).
    public var timeout: Duration
    private let group: any EventLoopGroup

    /// Creates an HTTP probe.
    /// - Parameters:
    ///   - path: The path to GET; defaults to `/health`.
    ///   - timeout: Upper bound per attempt; defaults to 1 s.
    ///   - eventLoopGroup: Defaults to NIO's shared singleton group.
    public init(path: String = "/health", timeout: Duration = .seconds(1), eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.path = path.hasPrefix("/") ? path : "/" + path
        self.timeout = timeout
        self.group = eventLoopGroup
    }

    /// One probe attempt (see ``NodeProbe/probe(_:timeout:)``).
    public func probe(_ node: ClusterNode, timeout: Duration) async -> Bool {
        guard let (host, port) = node.hostAndPort else { return false }
        let limit = min(timeout, self.timeout)
        let group = self.group
        let path = self.path
        let hostHeader = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        do {
            let result = try await withDeadline(limit) { () -> Bool in
                let channel = try await ClientBootstrap(group: group)
                    .connectTimeout(.nanoseconds(Int64(limit.components.seconds) * 1_000_000_000
                        + limit.components.attoseconds / 1_000_000_000))
                    .connect(host: host, port: port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                        }
                    }
                return try await channel.executeThenClose { inbound, outbound in
                    let request = "GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: autocluster-probe\r\n"
                        + "Accept: */*\r\nConnection: close\r\n\r\n"
                    try await outbound.write(ByteBuffer(string: request))
                    var received: [UInt8] = []
                    for try await var chunk in inbound {
                        received += chunk.readBytes(length: chunk.readableBytes) ?? []
                        if received.firstIndex(of: UInt8(ascii: "\n")) != nil || received.count > 4096 { break }
                    }
                    return Self.isSuccess(statusLine: received)
                }
            }
            return result ?? false
        } catch {
            return false
        }
    }

    /// `HTTP/1.x 2xx …`.
    static func isSuccess(statusLine bytes: [UInt8]) -> Bool {
        let line = String(decoding: bytes.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else { return false }
        return (200...299).contains(status)
    }
}
