// libFuzzer target: the node-list JSON decoder — every value read from a store goes through it,
// and another client (or another language) may have written anything there.
// Build and run with scripts/fuzz.sh.
import CFuzzerDriver
import NodeList

@_cdecl("FuzzNodeListDocument_main")
public func FuzzNodeListDocumentMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return fuzzNodeListDocument(UnsafeRawPointer(bitPattern: 1)!, 0) }
        return fuzzNodeListDocument(UnsafeRawPointer(data), size)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNodeListDocument(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    do {
        let document = try NodeListDocument.decode(bytes, version: 7)
        // What decodes re-encodes to a document that decodes to the same nodes.
        let again = try NodeListDocument.decode(document.encoded(), version: 8)
        precondition(again == document, "encode/decode round trip changed the document")
    } catch let error as NodeListError {
        precondition(error.code == .corruptValue, "unexpected error code \(error.code)")
    } catch {
        preconditionFailure("decode threw a non-NodeListError: \(error)")
    }
    return 0
}
