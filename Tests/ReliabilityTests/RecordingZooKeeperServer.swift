import StoreTestSupport

/// A loopback stand-in for a ZooKeeper server that completes the session handshake, answers
/// pings, and records the opcode of every other request a client sends — answering none of
/// them. It shows what a client put on the wire, e.g. that a refused call sent nothing.
///
/// The wire format (ZooKeeper's jute, big-endian, each frame with a 4-byte length prefix): the
/// first frame is the ConnectRequest, answered with a ConnectResponse (protocol version 0, the
/// requested time-out, a session id, a 16-byte password, not read-only); every later frame starts
/// with xid and opcode. A ping (xid -2, opcode 11) gets a ReplyHeader with the same xid.
final class RecordingZooKeeperServer: Sendable {
    /// The ZooKeeper opcodes of the requests received (ping excluded), in order.
    var requests: [Int32] { recorded.withLock { $0 } }
    var address: String { server.address }

    static let ping: Int32 = 11
    static let exists: Int32 = 3

    private let server: ScriptedServer
    private let recorded: TestMutex<[Int32]>

    private init(server: ScriptedServer, recorded: TestMutex<[Int32]>) {
        self.server = server
        self.recorded = recorded
    }

    static func start() async throws -> RecordingZooKeeperServer {
        let recorded = TestMutex<[Int32]>([])
        let server = try await ScriptedServer.start(script: {
            { input, cursor in
                var out: [UInt8] = []
                while input.count - cursor >= 4 {
                    let length = Int(int32(input, at: cursor))
                    guard length >= 0, input.count - cursor - 4 >= length else { break }
                    let body = cursor + 4
                    if cursor == 0 {
                        // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly.
                        let timeOut = length >= 16 ? int32(input, at: body + 12) : 10_000
                        var response = bytes(Int32(0)) + bytes(timeOut) + bytes(Int64(0x0a11_ce00_0000_0001))
                        response += bytes(Int32(16)) + [UInt8](repeating: 0x5a, count: 16) + [0]
                        out += bytes(Int32(response.count)) + response
                    } else if length >= 8 {
                        let xid = int32(input, at: body), opcode = int32(input, at: body + 4)
                        if opcode == ping {
                            let reply = bytes(xid) + bytes(Int64(0)) + bytes(Int32(0))
                            out += bytes(Int32(reply.count)) + reply
                        } else {
                            recorded.withLock { $0.append(opcode) }
                        }
                    }
                    cursor = body + length
                }
                return (out, false)
            }
        })
        return RecordingZooKeeperServer(server: server, recorded: recorded)
    }

    func stop() async { await server.stop() }
}

private func int32(_ bytes: [UInt8], at offset: Int) -> Int32 {
    Int32(bitPattern: UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
          | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3]))
}

private func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}
