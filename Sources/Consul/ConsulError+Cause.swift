import AsyncHTTPClient
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ConsulError {
    /// The cause of `error` in a few words ("connection refused", "connect timed out"), for a
    /// message that names it once. NIO's own descriptions repeat the host, the port and every
    /// address tried; the full error stays in ``underlying``.
    static func causePhrase(_ error: any Error) -> String {
        switch error {
        case let error as ConsulError:
            // Its root cause: the wrapper's own message already says what the wrapped one did.
            return error.underlying.map(causePhrase) ?? oneLine(error.message)
        case let error as NIOConnectionError:
            var phrases: [String] = []
            for failure in error.connectionErrors {
                let phrase = causePhrase(failure.error)
                if !phrases.contains(phrase) { phrases.append(phrase) }
            }
            if phrases.isEmpty && (error.dnsAError != nil || error.dnsAAAAError != nil) {
                return "the host name did not resolve"
            }
            return phrases.isEmpty ? "no address to connect to" : phrases.joined(separator: ", ")
        case let error as IOError:
            return errnoPhrase(error.errnoCode)
        case let error as NIOSSLError:
            if case .handshakeFailed(let inner) = error { return "handshake failed: \(sslPhrase(inner))" }
            return brief("\(error)")
        case let error as BoringSSLError:
            return sslPhrase(error)
        case let error as ChannelError:
            if case .connectTimeout = error { return "connect timed out" }
            return brief("\(error)")
        case let error as HTTPClientError:
            switch error {
            case .connectTimeout: return "connect timed out"
            case .remoteConnectionClosed: return "the connection was closed by the server"
            case .getConnectionFromPoolTimeout: return "no connection in time"
            case .deadlineExceeded: return "the request deadline passed"
            case .readTimeout: return "read timed out"
            default: return brief("\(error)")
            }
        default:
            return brief("\(error)")
        }
    }

    /// BoringSSL's reasons ("certificate verify failed"), without its "Error: 268435581" prefixes.
    static func sslPhrase(_ error: BoringSSLError) -> String {
        guard case .sslError(let stack) = error, !stack.isEmpty else { return brief("\(error)") }
        let reasons = stack.map { entry -> String in
            var words = "\(entry)".split(separator: " ")
            if words.first == "Error:" { words.removeFirst() }
            if let code = words.first, code.allSatisfy(\.isNumber) { words.removeFirst() }
            return words.joined(separator: " ")
        }
        return brief(reasons.joined(separator: "; "))
    }

    static func errnoPhrase(_ code: CInt) -> String {
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
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// Another program's text on one line, at most 120 characters.
    static func brief(_ text: String) -> String {
        let flat = oneLine(text)
        return flat.count > 120 ? String(flat.prefix(119)) + "…" : flat
    }
}
