import NIOConcurrencyHelpers
import StoreTestSupport

/// A loopback HTTP/2 server that plays an etcd member shutting down: it takes `total` gRPC
/// requests (recording each stream ID with its request body), then answers the first
/// `answered` of them with an empty OK message, sends GOAWAY(last-stream-id, NO_ERROR) and
/// closes the connection — so the calls on streams ≤ last-stream-id were "maybe processed" and
/// those above it were, in the server's word, not processed.
final class GoAwayServer: Sendable {
    struct Request: Sendable {
        var streamID: UInt32
        var body: [UInt8]
    }

    private let server: ScriptedServer
    private let requests: NIOLockedValueBox<[Request]>

    private init(server: ScriptedServer, requests: NIOLockedValueBox<[Request]>) {
        self.server = server
        self.requests = requests
    }

    /// The complete requests received so far, in arrival order.
    var received: [Request] { requests.withLockedValue { $0 } }

    var endpoint: String { "http://\(server.address)" }

    static func start(total: Int, answered: Int, lastStreamID: UInt32) async throws -> GoAwayServer {
        let requests = NIOLockedValueBox<[Request]>([])
        let server = try await ScriptedServer.start {
            script(total: total, answered: answered, lastStreamID: lastStreamID, requests: requests)
        }
        return GoAwayServer(server: server, requests: requests)
    }

    func stop() async {
        await server.stop()
    }

    /// One connection: collects request bodies until `total` requests are complete, then
    /// answers the first `answered`, sends GOAWAY and closes; later bytes are ignored.
    private static func script(total: Int, answered: Int, lastStreamID: UInt32,
                               requests: NIOLockedValueBox<[Request]>) -> ScriptedServer.Script {
        var bodies: [UInt32: [UInt8]] = [:]
        var complete: [UInt32] = []
        var done = false
        return { input, cursor in
            guard !done else { return ([], false) }
            guard let (handshake, frames) = H2.serverRead(input, &cursor) else { return ([], true) }
            var out = handshake
            for frame in frames where frame.type == 0 {
                bodies[frame.stream, default: []] += frame.payload
                if frame.endsRequest {
                    complete.append(frame.stream)
                    let body = bodies[frame.stream] ?? []
                    requests.withLockedValue { $0.append(Request(streamID: frame.stream, body: body)) }
                }
            }
            if complete.count >= total {
                done = true
                for stream in complete.prefix(answered) {
                    out += H2.responseHeaders(stream: stream)
                        + H2.data(stream: stream, H2.grpcMessage(claimedLength: 0, []))
                        + H2.trailers(stream: stream, status: "0")
                }
                out += H2.goAway(lastStreamID: lastStreamID)
            }
            return (out, done)
        }
    }
}
