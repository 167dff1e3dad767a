import Foundation

/// The stored value: `{"format":1,"nodes":[…]}` as UTF-8 JSON.
///
/// Field order on write is fixed (`name`, `address`, `incarnation`, `joinedAt`, `metadata`) so
/// that other languages and humans read the same text; reading is strict about types and
/// required fields and tolerant of unknown extra fields (for later additions).
public struct NodeListDocument: Sendable, Hashable {
    /// The only format this version writes and reads.
    public static let currentFormat = 1

    /// The nodes, in join order.
    public var nodes: [ClusterNode]

    /// Creates a document.
    public init(nodes: [ClusterNode]) { self.nodes = nodes }

    /// The UTF-8 JSON bytes of this document.
    public func encoded() -> [UInt8] {
        var out = "{\"format\":\(Self.currentFormat),\"nodes\":["
        for (i, node) in nodes.enumerated() {
            if i > 0 { out += "," }
            out += "{\"name\":" + Self.quote(node.name)
            out += ",\"address\":" + Self.quote(node.address)
            out += ",\"incarnation\":" + Self.quote(node.incarnation)
            out += ",\"joinedAt\":" + Self.quote(Self.formatDate(node.joinedAt))
            out += ",\"metadata\":{"
            for (j, key) in node.metadata.keys.sorted().enumerated() {
                if j > 0 { out += "," }
                out += Self.quote(key) + ":" + Self.quote(node.metadata[key]!)
            }
            out += "}}"
        }
        out += "]}"
        return Array(out.utf8)
    }

    /// Decodes stored bytes.
    /// - Throws: ``NodeListError`` with code `.corruptValue` (carrying `version` and the bytes)
    ///   when the bytes are not a format-1 document.
    public static func decode(_ bytes: [UInt8], version: UInt64) throws -> NodeListDocument {
        func corrupt(_ why: String) -> NodeListError {
            .corruptValue(version: version, bytes: bytes, reason: why)
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw corrupt("it is not JSON")
        }
        guard let root = object as? [String: Any] else { throw corrupt("it is not a JSON object") }
        guard let format = root["format"] as? NSNumber, !isBool(format) else {
            throw corrupt("\"format\" is missing or not a number")
        }
        guard format.doubleValue == Double(currentFormat) else {
            throw corrupt("\"format\" is \(format), this version reads format \(currentFormat)")
        }
        guard let rawNodes = root["nodes"] as? [Any] else { throw corrupt("\"nodes\" is missing or not an array") }
        var nodes: [ClusterNode] = []
        nodes.reserveCapacity(rawNodes.count)
        for (i, raw) in rawNodes.enumerated() {
            guard let entry = raw as? [String: Any] else { throw corrupt("nodes[\(i)] is not an object") }
            func string(_ field: String) throws -> String {
                guard let value = entry[field] as? String else {
                    throw corrupt("nodes[\(i)].\(field) is missing or not a string")
                }
                return value
            }
            let name = try string("name")
            let address = try string("address")
            let incarnation = try string("incarnation")
            let joined = try string("joinedAt")
            guard !name.isEmpty else { throw corrupt("nodes[\(i)].name is empty") }
            guard let date = parseDate(joined) else {
                throw corrupt("nodes[\(i)].joinedAt \"\(joined)\" is not an RFC 3339 time")
            }
            var metadata: [String: String] = [:]
            if let rawMeta = entry["metadata"], !(rawMeta is NSNull) {
                guard let meta = rawMeta as? [String: Any] else {
                    throw corrupt("nodes[\(i)].metadata is not an object")
                }
                for (key, value) in meta {
                    guard let s = value as? String else {
                        throw corrupt("nodes[\(i)].metadata.\(key) is not a string")
                    }
                    metadata[key] = s
                }
            }
            nodes.append(ClusterNode(name: name, address: address, incarnation: incarnation, joinedAt: date, metadata: metadata))
        }
        return NodeListDocument(nodes: nodes)
    }

    /// JSON `true`/`false` come back as NSNumbers of type `c`; they are not numbers here.
    private static func isBool(_ n: NSNumber) -> Bool {
        n.objCType.pointee == 0x63
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `2026-11-22T10:00:00Z`, or with milliseconds when there are any (`…:00.250Z`).
    static func formatDate(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let fraction = millis - seconds * 1000
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        var s = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        if fraction != 0 { s += String(format: ".%03d", Int(fraction)) }
        return s + "Z"
    }

    /// RFC 3339 (`Z` or `±hh:mm`, optional fraction).
    /// The result is whole milliseconds, like every ``ClusterNode/joinedAt``, so a decoded
    /// document re-encodes to the same text.
    static func parseDate(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        var date = f.date(from: s)
        if date == nil {
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            date = f.date(from: s)
        }
        guard let date else { return nil }
        return Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000)
    }
}
