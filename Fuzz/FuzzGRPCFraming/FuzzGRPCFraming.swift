// libFuzzer target: the gRPC length-prefixed message deframer of the etcd transport.
// Build and run with scripts/fuzz.sh (see Tests/README.md, "Fuzzing").
import CFuzzerDriver
@testable import Etcd

@_cdecl("FuzzGRPCFraming_main")
public func FuzzGRPCFramingMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return fuzzGRPCFraming(UnsafeRawPointer(bitPattern: 1)!, 0) }
        return fuzzGRPCFraming(UnsafeRawPointer(data), size)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGRPCFraming(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = Array(UnsafeRawBufferPointer(start: start, count: count))
    // First byte chooses the size limit, so both the limit and the framing are exercised.
    let maxMessageSize = Int(input.first ?? 0) * 64
    let buffer = Array(input.dropFirst())
    var offset = 0
    while true {
        let before = offset
        switch GRPCFraming.next(buffer, offset: &offset, maxMessageSize: maxMessageSize) {
        case .message(let message):
            // A message consumes exactly its 5-byte prefix and its declared length.
            precondition(offset == before + 5 + message.count, "offset did not advance by the frame size")
            precondition(message.count <= maxMessageSize, "a message over the limit was returned")
            // Re-framing it gives back the bytes it was read from.
            precondition(GRPCFraming.frame(message)[...] == buffer[before..<offset], "frame/deframe mismatch")
        case .needMoreData, .tooLarge, .compressed:
            precondition(offset == before, "offset moved without a message")
            return 0
        }
    }
}
