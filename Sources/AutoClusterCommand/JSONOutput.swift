import AutoCluster
import Foundation

// What `--output json` prints: Codable values, encoded with sorted keys (and "/" unescaped),
// one object per line.

/// Prints `value` as one line of JSON on stdout.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    FileHandleOutput.standardOutput(String(decoding: try encoder.encode(value), as: UTF8.self) + "\n")
}

/// One listed node: `{"address","incarnation","joinedAt","metadata","name"}`, `joinedAt` in
/// RFC 3339 UTC with milliseconds when there are any (as in the stored document).
struct NodeJSON: Codable, Equatable, Sendable {
    var name: String
    var address: String
    var incarnation: String
    var joinedAt: String
    var metadata: [String: String]

    init(_ node: ClusterNode) {
        name = node.name
        address = node.address
        incarnation = node.incarnation
        joinedAt = Self.format(node.joinedAt)
        metadata = node.metadata
    }

    /// `2026-11-22T10:00:00Z`, or `…:00.250Z`.
    static func format(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let fraction = millis - seconds * 1000
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var text = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        if fraction != 0 {
            text.removeLast()  // "Z"
            text += String(format: ".%03dZ", Int(fraction))
        }
        return text
    }
}

/// `list` (and each line of `watch`): `{"format":1,"nodes":[…],"version":N}`; `version` is the
/// store's version of the value (null when the list does not exist; `watch` omits it).
struct ListJSON: Codable, Sendable {
    var format: Int
    var nodes: [NodeJSON]
    var version: UInt64?
    var includesVersion = true

    enum CodingKeys: String, CodingKey { case format, nodes, version }

    init(nodes: [ClusterNode], version: UInt64?, includesVersion: Bool = true) {
        format = NodeListDocument.currentFormat
        self.nodes = nodes.map(NodeJSON.init)
        self.version = version
        self.includesVersion = includesVersion
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        format = try container.decode(Int.self, forKey: .format)
        nodes = try container.decode([NodeJSON].self, forKey: .nodes)
        version = try container.decodeIfPresent(UInt64.self, forKey: .version)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(format, forKey: .format)
        try container.encode(nodes, forKey: .nodes)
        if includesVersion { try container.encode(version, forKey: .version) }
    }
}

/// `join`: `{"attempts","created","isolated","listed","nodes","responsive","seed","swept"}`;
/// `seed` is null when the node connected to none.
struct JoinJSON: Codable, Sendable {
    var seed: NodeJSON?
    var swept: [NodeJSON]
    var nodes: [NodeJSON]
    var attempts: Int
    var created: Bool
    var isolated: Bool
    var responsive: Int
    var listed: Int

    enum CodingKeys: String, CodingKey { case seed, swept, nodes, attempts, created, isolated, responsive, listed }

    init(_ outcome: JoinOutcome) {
        seed = outcome.seed.map(NodeJSON.init)
        swept = outcome.swept.map(NodeJSON.init)
        nodes = outcome.nodes.map(NodeJSON.init)
        attempts = outcome.attempts
        created = outcome.created
        isolated = outcome.isolated
        responsive = outcome.responsive
        listed = outcome.listed
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seed, forKey: .seed)  // null, not omitted
        try container.encode(swept, forKey: .swept)
        try container.encode(nodes, forKey: .nodes)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(created, forKey: .created)
        try container.encode(isolated, forKey: .isolated)
        try container.encode(responsive, forKey: .responsive)
        try container.encode(listed, forKey: .listed)
    }
}

/// `leave`: `{"removed":bool}`.
struct LeaveJSON: Codable, Sendable {
    var removed: Bool
}

/// `sweep`: `{"nodes":[…],"swept":[…]}`.
struct SweepJSON: Codable, Sendable {
    var swept: [NodeJSON]
    var nodes: [NodeJSON]
}

/// `list --raw --output json`: the stored bytes as base64, and as text when they are UTF-8.
struct RawValueJSON: Codable, Sendable {
    var key: String
    var version: UInt64
    var size: Int
    var base64: String
    /// The bytes as text, null when they are not valid UTF-8.
    var utf8: String?

    enum CodingKeys: String, CodingKey { case key, version, size, base64, utf8 }

    init(key: String, value: VersionedValue) {
        self.key = key
        version = value.version
        size = value.bytes.count
        base64 = Data(value.bytes).base64EncodedString()
        utf8 = String(validating: value.bytes, as: UTF8.self)
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decode(String.self, forKey: .key)
        version = try container.decode(UInt64.self, forKey: .version)
        size = try container.decode(Int.self, forKey: .size)
        base64 = try container.decode(String.self, forKey: .base64)
        utf8 = try container.decodeIfPresent(String.self, forKey: .utf8)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(version, forKey: .version)
        try container.encode(size, forKey: .size)
        try container.encode(base64, forKey: .base64)
        try container.encode(utf8, forKey: .utf8)
    }
}
