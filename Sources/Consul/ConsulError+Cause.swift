import AsyncHTTPClient
import ErrorPhrases

extension ConsulError {
    /// The cause of `error` in a few words ("connection refused", "connect timed out"), for a
    /// message that names it once; the full error stays in ``underlying``.
    static func causePhrase(_ error: any Error) -> String {
        switch error {
        case let error as ConsulError:
            // Its root cause: the wrapper's own message already says what the wrapped one did.
            return error.underlying.map(causePhrase) ?? oneLine(error.message)
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
            return ErrorPhrase.cause(of: error, nested: causePhrase)
        }
    }

    /// `text` on one line: line breaks become spaces.
    static func oneLine(_ text: String) -> String { ErrorPhrase.oneLine(text) }

    /// Another program's text on one line, at most 120 characters.
    static func brief(_ text: String) -> String { ErrorPhrase.brief(text) }
}
