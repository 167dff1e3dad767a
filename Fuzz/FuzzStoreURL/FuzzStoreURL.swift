// libFuzzer target: the store-URL parser of NodeListStore and the autocluster command
// (`--store`, `$AUTOCLUSTER_STORE`). Build and run with scripts/fuzz.sh.
import CFuzzerDriver
import Foundation
import NodeList

@_cdecl("FuzzStoreURL_main")
public func FuzzStoreURLMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return fuzzStoreURL(UnsafeRawPointer(bitPattern: 1)!, 0) }
        return fuzzStoreURL(UnsafeRawPointer(data), size)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStoreURL(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    do {
        let url = try StoreURL(parsing: text)
        precondition(!url.hosts.isEmpty, "a parsed URL has no host")
        // The canonical form (which never shows credentials) parses back to the same URL.
        let again = try StoreURL(parsing: url.description)
        precondition(again == url.withoutCredentials, "\(url) did not parse back to itself")
    } catch let error as NodeListError {
        precondition(error.code == .invalidStoreURL, "unexpected error code \(error.code)")
        if let at = text.lastIndex(of: "@"), let scheme = text.range(of: "://"), scheme.upperBound <= at {
            // Credentials (everything from "://" up to the last "@") are never echoed back —
            // unless the same text also appears outside them (in the scheme or after the "@").
            // (Searched as scalar arrays: Foundation's substring search on Linux traps on some
            // Substring inputs, which would be a crash of this harness, not of the parser.)
            let secret = Array(text[scheme.upperBound..<at].unicodeScalars)
            func contains(_ haystack: some StringProtocol) -> Bool {
                let h = Array(haystack.unicodeScalars)
                guard h.count >= secret.count else { return false }
                return (0...(h.count - secret.count)).contains { Array(h[$0..<($0 + secret.count)]) == secret }
            }
            // The fixed hint at the end ("— expected zookeeper://HOST:PORT…") is not an echo.
            let message = error.message.components(separatedBy: " — expected ").first ?? error.message
            // Nor are the parts the parser quotes by design: the redacted URL and the lowercased
            // scheme. They are cut out, and the secret is searched in each piece left, so that a
            // "secret" made of their tail and the message's own quote is not taken for an echo
            // (crash-6bd21faa: the text after the "@" followed by the closing quote).
            let schemeText = String(text[..<scheme.lowerBound])
            let quoted = ["\"" + String(text[..<scheme.upperBound]) + "***" + String(text[at...]) + "\"",
                          "\"" + schemeText.lowercased() + "\""].map { Array($0.unicodeScalars) }
            var pieces = [Array(message.unicodeScalars)]
            for part in quoted {
                pieces = pieces.flatMap { piece -> [[Unicode.Scalar]] in
                    var result: [[Unicode.Scalar]] = []
                    var current: [Unicode.Scalar] = []
                    var i = 0
                    while i < piece.count {
                        if i + part.count <= piece.count && Array(piece[i..<(i + part.count)]) == part {
                            result.append(current)
                            current = []
                            i += part.count
                        } else {
                            current.append(piece[i])
                            i += 1
                        }
                    }
                    result.append(current)
                    return result
                }
            }
            let echoed = pieces.map { String(String.UnicodeScalarView($0)) }
            // The redacted form (scheme + "***" + what follows the "@") is what the parser shows
            // by design: a "secret" that is found inside it is made of scheme text, "*"s and text
            // after the "@", not of the credentials (crash-b90a3bf4: the scheme's tail + "*").
            let redacted = String(text[..<scheme.upperBound]) + "***" + String(text[at...])
            precondition(secret.count < 4 || !echoed.contains(where: contains) || contains(text[at...]) || contains(redacted)
                            || contains(text[..<scheme.upperBound]) || contains(text[..<scheme.upperBound].lowercased()),
                         "credentials echoed in an error")
        }
    } catch {
        preconditionFailure("parsing threw a non-NodeListError: \(error)")
    }
    return 0
}
