// libFuzzer target: decoding etcd responses with protobuf-c into the client's Swift values —
// the path every byte received from an etcd server takes. The first input byte picks the
// message type; the rest is the encoded message. Build and run with scripts/fuzz.sh.
import CFuzzerDriver
@testable import Etcd

@_cdecl("FuzzEtcdProto_main")
public func FuzzEtcdProtoMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return fuzzEtcdProto(UnsafeRawPointer(bitPattern: 1)!, 0) }
        return fuzzEtcdProto(UnsafeRawPointer(data), size)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEtcdProto(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let input = Array(UnsafeRawBufferPointer(start: start, count: count))
    let bytes = Array(input.dropFirst())
    let endpoint = try? EtcdEndpoint.parse("http://127.0.0.1:2379", defaultTLS: false)
    do {
        switch input[0] % 8 {
        case 0: _ = try Proto.decodeRange(bytes, endpoint: endpoint)
        case 1: _ = try Proto.decodePut(bytes, endpoint: endpoint)
        case 2: _ = try Proto.decodeDelete(bytes, endpoint: endpoint)
        case 3: _ = try Proto.decodeTxn(bytes, endpoint: endpoint)
        case 4: _ = try Proto.decodeWatchResponse(bytes, endpoint: endpoint)
        case 5: if let endpoint { _ = try Proto.decodeLeaseTimeToLive(bytes, endpoint: endpoint) }
        case 6: if let endpoint { _ = try Proto.decodeMemberList(bytes, endpoint: endpoint) }
        default: if let endpoint { _ = try Proto.decodeStatus(bytes, endpoint: endpoint) }
        }
    } catch let error as EtcdError {
        // Undecodable input must be reported as a protocol error, never anything else.
        precondition(error.code == .protocolError, "unexpected error code \(error.code)")
    } catch {
        preconditionFailure("decoding threw a non-EtcdError: \(error)")
    }
    return 0
}
