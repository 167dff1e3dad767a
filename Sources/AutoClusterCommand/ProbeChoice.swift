import ArgumentParser

/// `--probe tcp|http:/PATH|none`. Not a plain enum because `http:` carries a path; completion
/// offers `tcp`, `http:/` and `none`.
enum ProbeChoice: ExpressibleByArgument, Equatable, Sendable, CustomStringConvertible {
    /// Connect to HOST:PORT.
    case tcp
    /// GET PATH; a 2xx answer means alive.
    case http(path: String)
    /// Do not probe: every node counts as alive.
    case none

    init?(argument: String) {
        switch argument {
        case "tcp": self = .tcp
        case "none": self = .none
        case _ where argument.hasPrefix("http:"):
            let path = String(argument.dropFirst("http:".count))
            guard path.isEmpty || (path.hasPrefix("/") && !path.unicodeScalars.contains(where: isControlOrSpace)) else { return nil }
            self = .http(path: path.isEmpty ? "/" : path)
        default: return nil
        }
    }

    static var allValueStrings: [String] { ["tcp", "http:/", "none"] }

    static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }

    var description: String {
        switch self {
        case .tcp: "tcp"
        case .none: "none"
        case .http(let path): "http:" + path
        }
    }

    var defaultValueDescription: String { description }
}
