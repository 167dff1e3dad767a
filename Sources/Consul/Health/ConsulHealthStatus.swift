/// A health check's status (`passing`, `warning`, `critical`, `maintenance`).
///
/// A struct over Consul's string so statuses added by newer Consul versions still decode.
public struct ConsulHealthStatus: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    /// Consul's name for the status.
    public var rawValue: String

    /// Creates a status from Consul's name for it.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The check passes.
    public static let passing = Self(rawValue: "passing")
    /// The check warns (a `passingOnly` query leaves the instance out).
    public static let warning = Self(rawValue: "warning")
    /// The check fails.
    public static let critical = Self(rawValue: "critical")
    /// The node or service is in maintenance mode.
    public static let maintenance = Self(rawValue: "maintenance")

    /// Consul's name for the status.
    public var description: String { rawValue }

    /// Decodes Consul's string.
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes Consul's string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
