/// Just enough HTTP/2 (RFC 9113), HPACK (RFC 7541) and gRPC framing to play an etcd server —
/// a broken one, or one that goes away — from a `ScriptedServer` script.
public enum H2 {
    /// The client connection preface.
    public static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// A frame: the 9-byte header (length, type, flags, stream ID with the reserved bit clear) and `payload`.
    public static func frame(type: UInt8, flags: UInt8, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff), type, flags,
                UInt8(stream >> 24 & 0x7f), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)] + payload
    }

    /// An empty SETTINGS frame (all defaults).
    public static let settings = frame(type: 4, flags: 0, stream: 0, [])
    /// A SETTINGS frame with the ACK flag.
    public static let settingsAck = frame(type: 4, flags: 1, stream: 0, [])

    /// An HPACK literal header field without indexing, new name (short strings only).
    public static func literal(_ name: String, _ value: String) -> [UInt8] {
        let n = Array(name.utf8), v = Array(value.utf8)
        return [0x00, UInt8(n.count)] + n + [UInt8(v.count)] + v
    }

    /// A HEADERS frame with `:status 200`, `content-type: application/grpc`.
    public static func responseHeaders(stream: UInt32) -> [UInt8] {
        frame(type: 1, flags: 0x4, stream: stream, [0x88] + literal("content-type", "application/grpc"))
    }

    /// A trailing HEADERS frame (END_STREAM) with `grpc-status` and, if given, `grpc-message`.
    public static func trailers(stream: UInt32, status: String, message: String? = nil) -> [UInt8] {
        var block = literal("grpc-status", status)
        if let message { block += literal("grpc-message", message) }
        return frame(type: 1, flags: 0x5, stream: stream, block)
    }

    /// A DATA frame carrying `payload` (already gRPC-framed or deliberately not).
    public static func data(stream: UInt32, _ payload: [UInt8], endStream: Bool = false) -> [UInt8] {
        frame(type: 0, flags: endStream ? 1 : 0, stream: stream, payload)
    }

    /// A gRPC length prefix (uncompressed) claiming `length` bytes, followed by `body`.
    public static func grpcMessage(claimedLength length: UInt32, _ body: [UInt8]) -> [UInt8] {
        [0, UInt8(length >> 24 & 0xff), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + body
    }

    /// A GOAWAY frame: GOAWAY(last-stream-id, NO_ERROR).
    public static func goAway(lastStreamID: UInt32) -> [UInt8] {
        let id = lastStreamID
        return frame(type: 7, flags: 0, stream: 0,
                     [UInt8(id >> 24 & 0x7f), UInt8(id >> 16 & 0xff), UInt8(id >> 8 & 0xff), UInt8(id & 0xff), 0, 0, 0, 0])
    }

    /// One frame a client sent.
    public struct Frame: Sendable {
        /// The frame type (0 DATA, 1 HEADERS, …).
        public var type: UInt8
        /// The frame flags.
        public var flags: UInt8
        /// The stream ID (reserved bit cleared).
        public var stream: UInt32
        /// The frame payload.
        public var payload: ArraySlice<UInt8>

        /// Whether this is a DATA frame with END_STREAM: the end of a request body.
        public var endsRequest: Bool { type == 0 && flags & 1 != 0 }
    }

    /// The server's side of a connection, for a `ScriptedServer` script: waits for the client
    /// preface and answers it with SETTINGS and a SETTINGS ACK, then reads the complete frames
    /// from `cursor` on, advancing `cursor` past them (a partial frame is left for the next call).
    ///
    /// - Returns: `nil` when the connection does not start with the HTTP/2 preface (close it);
    ///   otherwise the handshake bytes to send (empty after the first time) and the frames read.
    public static func serverRead(_ input: [UInt8], _ cursor: inout Int) -> (handshake: [UInt8], frames: [Frame])? {
        var handshake: [UInt8] = []
        if cursor == 0 {
            guard input.count >= preface.count else { return ([], []) }
            guard Array(input[0..<preface.count]) == preface else { return nil }
            cursor = preface.count
            handshake = settings + settingsAck
        }
        var frames: [Frame] = []
        while input.count - cursor >= 9 {
            let length = Int(input[cursor]) << 16 | Int(input[cursor + 1]) << 8 | Int(input[cursor + 2])
            guard input.count - cursor >= 9 + length else { break }
            let stream = UInt32(input[cursor + 5] & 0x7f) << 24 | UInt32(input[cursor + 6]) << 16
                | UInt32(input[cursor + 7]) << 8 | UInt32(input[cursor + 8])
            frames.append(Frame(type: input[cursor + 3], flags: input[cursor + 4], stream: stream,
                                payload: input[(cursor + 9)..<(cursor + 9 + length)]))
            cursor += 9 + length
        }
        return (handshake, frames)
    }
}
