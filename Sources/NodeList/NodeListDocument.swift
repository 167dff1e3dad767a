import Foundation

/// The stored value: `{"format":1,"nodes":[…]}` as UTF-8 JSON.
///
/// Field order on write is fixed (`name`, `address`, `incarnation`, `joinedAt`, `metadata`, then
/// `suspectedBy` when an entry has suspicions) so that other languages and humans read the same
/// text; reading is strict about types and required fields and tolerant of unknown extra fields
/// (for later additions).
///
/// `suspectedBy` (optional, a list of `{"name":…,"incarnation":…,"pastGrace":bool}`, with
/// `"challenge":true` on some) names the listed observers whose latest probe round found the
/// entry dead: the votes that the sweep rules count. `pastGrace` says the observer had known the
/// entry for longer than its grace period when it voted; only such votes can remove an entry,
/// while any vote is a sign that its observer is alive. `challenge` marks an isolated observer's
/// intent to remove the entry under the survivor rule; the entry's own node, when alive, clears
/// it at its next refresh. A format-1 reader that does not know the field ignores it; a writer that drops it
/// only drops votes, which their observers cast again on their next refresh.
public struct NodeListDocument: Sendable, Hashable {
    /// The only format this version writes and reads.
    public static let currentFormat = 1

    /// The nodes, in join order.
    public var nodes: [ClusterNode]
    /// For each entry, the observers (listed entries) that currently suspect it dead, each with
    /// whether the entry was past that observer's grace period.
    var suspicions: [NodeIdentity: [NodeIdentity: Vote]]

    /// Creates a document.
    public init(nodes: [ClusterNode]) {
        self.nodes = nodes
        self.suspicions = [:]
    }

    init(nodes: [ClusterNode], suspicions: [NodeIdentity: [NodeIdentity: Vote]]) {
        self.nodes = nodes
        self.suspicions = suspicions.filter { !$0.value.isEmpty }
    }

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
            out += "}"
            if let observers = suspicions[NodeIdentity(node)], !observers.isEmpty {
                out += ",\"suspectedBy\":["
                for (j, observer) in observers.keys.sorted().enumerated() {
                    if j > 0 { out += "," }
                    out += "{\"name\":" + Self.quote(observer.name) + ",\"incarnation\":" + Self.quote(observer.incarnation)
                        + ",\"pastGrace\":" + (observers[observer]!.pastGrace ? "true" : "false")
                        + (observers[observer]!.challenge ? ",\"challenge\":true}" : "}")
                }
                out += "]"
            }
            out += "}"
        }
        out += "]}"
        return Array(out.utf8)
    }

    /// Stored text quoted in an error: at most 64 characters, control characters escaped, so a
    /// hostile value cannot make the message huge or break it into lines.
    static func excerpt(_ text: String) -> String {
        var out = ""
        for (i, scalar) in text.unicodeScalars.enumerated() {
            if i == 64 { return out + "…" }
            out += scalar.value < 0x20 || scalar.value == 0x7f ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }
        return out
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
        var suspicions: [NodeIdentity: [NodeIdentity: Vote]] = [:]
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
                throw corrupt("nodes[\(i)].joinedAt \"\(excerpt(joined))\" is not an RFC 3339 time between 1970 and 9999")
            }
            var metadata: [String: String] = [:]
            if let rawMeta = entry["metadata"], !(rawMeta is NSNull) {
                guard let meta = rawMeta as? [String: Any] else {
                    throw corrupt("nodes[\(i)].metadata is not an object")
                }
                for (key, value) in meta {
                    guard let s = value as? String else {
                        throw corrupt("nodes[\(i)].metadata.\(excerpt(key)) is not a string")
                    }
                    metadata[key] = s
                }
            }
            let node = ClusterNode(name: name, address: address, incarnation: incarnation, joinedAt: date, metadata: metadata)
            if let rawSuspects = entry["suspectedBy"], !(rawSuspects is NSNull) {
                guard let list = rawSuspects as? [Any] else { throw corrupt("nodes[\(i)].suspectedBy is not an array") }
                var observers: [NodeIdentity: Vote] = [:]
                for (j, rawObserver) in list.enumerated() {
                    guard let observer = rawObserver as? [String: Any], let observerName = observer["name"] as? String,
                          let observerIncarnation = observer["incarnation"] as? String
                    else { throw corrupt("nodes[\(i)].suspectedBy[\(j)] is not {\"name\":…,\"incarnation\":…}") }
                    func flag(_ field: String) -> Bool { (observer[field] as? NSNumber).map { isBool($0) && $0.boolValue } ?? false }
                    observers[NodeIdentity(name: observerName, incarnation: observerIncarnation)] =
                        Vote(pastGrace: flag("pastGrace"), challenge: flag("challenge"))
                }
                if !observers.isEmpty { suspicions[NodeIdentity(node), default: [:]].merge(observers) { a, _ in a } }
            }
            nodes.append(node)
        }
        return NodeListDocument(nodes: nodes, suspicions: suspicions)
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

    /// RFC 3339 (`Z` or `±hh:mm`, optional fraction of up to 9 digits), from 1970 to 9999.
    /// The result is whole milliseconds, like every ``ClusterNode/joinedAt``, so a decoded
    /// document re-encodes to the same text.
    ///
    /// Parsed by hand, strictly: Foundation's `ISO8601DateFormatter` crashed the process
    /// (SIGFPE) on a fraction of a hundred digits, found by `Fuzz/FuzzNodeListDocument` — and the
    /// stored value is written by whoever can write to the store. Before 1970 no node joined
    /// anything; after 9999 RFC 3339 ends.
    static func parseDate(_ s: String) -> Date? {
        let b = Array(s.utf8)
        var i = 0
        func digits(_ count: Int) -> Int? {
            guard i + count <= b.count else { return nil }
            var value = 0
            for _ in 0..<count {
                let c = b[i]
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(c - UInt8(ascii: "0"))
                i += 1
            }
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard i < b.count, characters.utf8.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
              expect("Tt "), let hour = digits(2), expect(":"), let minute = digits(2), expect(":"),
              let second = digits(2) else { return nil }
        var fraction = 0.0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            var count = 0
            while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") {
                count += 1
                guard count <= 9 else { return nil }
                fraction += Double(b[i] - UInt8(ascii: "0")) * scale
                scale /= 10
                i += 1
            }
            guard count > 0 else { return nil }
        }
        var offset = 0
        if expect("Zz") {
            offset = 0
        } else if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let offsetHours = digits(2), expect(":"), let offsetMinutes = digits(2),
                  offsetHours <= 23, offsetMinutes <= 59 else { return nil }
            offset = sign * (offsetHours * 3600 + offsetMinutes * 60)
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let daysInMonth = [31, (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28,
                           31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), (1...daysInMonth[month - 1]).contains(day),
              hour <= 23, minute <= 59, second <= 60 else { return nil }
        // Days since 1970-01-01 in the proleptic Gregorian calendar (as gmtime in formatDate).
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offset) + fraction
        guard seconds >= 0, seconds < 253_402_300_800 else { return nil }
        return Date(timeIntervalSince1970: (seconds * 1000).rounded() / 1000)
    }
}
