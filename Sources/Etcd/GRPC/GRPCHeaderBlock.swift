import CNGHTTP2

/// Header names and values in one C buffer with their `nghttp2_nv` entries, made once and
/// submitted with many calls (nghttp2 copies them during submit, so nothing points here after).
final class GRPCHeaderBlock: @unchecked Sendable {
    // @unchecked: the buffers are written only in init, then only read.
    let entries: UnsafeMutableBufferPointer<nghttp2_nv>
    private let bytes: UnsafeMutableBufferPointer<UInt8>

    /// `:path`'s name; each call points the value at its own path.
    static let pathName = GRPCHeaderBlock([(":path", "")])

    init(_ headers: [(String, String)]) {
        let total = headers.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count }
        bytes = .allocate(capacity: max(total, 1))
        entries = .allocate(capacity: headers.count)
        var offset = 0
        func append(_ text: String) -> (UnsafeMutablePointer<UInt8>, Int) {
            let start = bytes.baseAddress! + offset
            for byte in text.utf8 {
                bytes[offset] = byte
                offset += 1
            }
            return (start, text.utf8.count)
        }
        for (i, (name, value)) in headers.enumerated() {
            let (namePointer, nameLength) = append(name)
            let (valuePointer, valueLength) = append(value)
            entries[i] = nghttp2_nv(name: namePointer, value: valuePointer, namelen: nameLength, valuelen: valueLength,
                                    flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
        }
    }

    deinit {
        bytes.deallocate()
        entries.deallocate()
    }
}
