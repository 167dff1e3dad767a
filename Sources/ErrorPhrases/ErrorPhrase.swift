import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The few words that name an I/O, TLS or connect failure ("connection refused", "connect timed
/// out", "handshake failed: certificate verify failed"), shared by the etcd and Consul clients so
/// their one-line errors name a cause the same way. NIO's own descriptions repeat the host, the
/// port and every address tried; callers keep the full error as their `underlying`.
package enum ErrorPhrase {
    /// The cause of `error`. `nested` phrases the errors found inside it (each connect attempt of
    /// a `NIOConnectionError`): pass the client's own phrase function, so that its error types
    /// are unwrapped there too.
    package static func cause(of error: any Error, nested: (any Error) -> String) -> String {
        switch error {
        case let error as NIOConnectionError:
            var phrases: [String] = []
            for failure in error.connectionErrors {
                let phrase = nested(failure.error)
                if !phrases.contains(phrase) { phrases.append(phrase) }
            }
            if phrases.isEmpty && (error.dnsAError != nil || error.dnsAAAAError != nil) {
                return "the host name did not resolve"
            }
            return phrases.isEmpty ? "no address to connect to" : phrases.joined(separator: ", ")
        case let error as IOError:
            return errno(error.errnoCode)
        case let error as NIOSSLError:
            if case .handshakeFailed(let inner) = error { return "handshake failed: \(ssl(inner))" }
            return brief("\(error)")
        case let error as BoringSSLError:
            return ssl(error)
        case let error as ChannelError:
            if case .connectTimeout = error { return "connect timed out" }
            return brief("\(error)")
        default:
            return brief("\(error)")
        }
    }

    /// BoringSSL's reasons ("certificate verify failed"), without its "Error: 268435581" prefixes.
    package static func ssl(_ error: BoringSSLError) -> String {
        guard case .sslError(let stack) = error, !stack.isEmpty else { return brief("\(error)") }
        let reasons = stack.map { entry -> String in
            var words = "\(entry)".split(separator: " ")
            if words.first == "Error:" { words.removeFirst() }
            if let code = words.first, code.allSatisfy(\.isNumber) { words.removeFirst() }
            return words.joined(separator: " ")
        }
        return brief(reasons.joined(separator: "; "))
    }

    /// An errno in words: the common network ones as people say them, the rest as strerror does.
    package static func errno(_ code: CInt) -> String {
        switch code {
        case ECONNREFUSED: return "connection refused"
        case ETIMEDOUT: return "connect timed out"
        case ECONNRESET: return "connection reset"
        case EHOSTUNREACH: return "host unreachable"
        case ENETUNREACH: return "network unreachable"
        default: return String(cString: strerror(code)).lowercased()
        }
    }

    /// `text` on one line: line breaks become spaces.
    package static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// Another program's or library's text on one line, at most 120 characters.
    package static func brief(_ text: String) -> String {
        let flat = oneLine(text)
        return flat.count > 120 ? String(flat.prefix(119)) + "…" : flat
    }
}
