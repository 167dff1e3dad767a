/// gRPC's length-prefixed message framing: 1 byte compressed flag, 4 bytes big-endian length.
enum GRPCFraming {
    static func frame(_ message: [UInt8]) -> [UInt8] {
        var framed = [UInt8]()
        framed.reserveCapacity(message.count + 5)
        framed.append(0)
        let n = UInt32(message.count)
        framed.append(UInt8(truncatingIfNeeded: n >> 24))
        framed.append(UInt8(truncatingIfNeeded: n >> 16))
        framed.append(UInt8(truncatingIfNeeded: n >> 8))
        framed.append(UInt8(truncatingIfNeeded: n))
        framed.append(contentsOf: message)
        return framed
    }

    enum Next: Equatable {
        case message([UInt8])
        case needMoreData
        case tooLarge(Int)
        case compressed
    }

    /// Takes the next complete message out of `buffer[offset...]`, advancing `offset`.
    static func next(_ buffer: [UInt8], offset: inout Int, maxMessageSize: Int) -> Next {
        let available = buffer.count - offset
        guard available >= 5 else { return .needMoreData }
        if buffer[offset] != 0 { return .compressed }
        let length = Int(buffer[offset + 1]) << 24 | Int(buffer[offset + 2]) << 16
            | Int(buffer[offset + 3]) << 8 | Int(buffer[offset + 4])
        if length > maxMessageSize { return .tooLarge(length) }
        guard available >= 5 + length else { return .needMoreData }
        let message = Array(buffer[(offset + 5)..<(offset + 5 + length)])
        offset += 5 + length
        return .message(message)
    }

    /// `grpc-timeout` header value for a duration: at most 8 digits, in milliseconds or seconds.
    static func timeoutHeader(_ duration: Duration) -> String {
        let ms = max(1, duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        if ms < 100_000_000 { return "\(ms)m" }
        return "\(min(99_999_999, ms / 1000))S"
    }

    /// Decodes the percent-encoding of `grpc-message`.
    static func percentDecode(_ value: String) -> String {
        var bytes = [UInt8]()
        var utf8 = Array(value.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let decoded = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(decoded)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
