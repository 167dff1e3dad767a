import Foundation

/// One entry of Consul's key/value store, as `GET /v1/kv/:key` returns it.
public struct ConsulKeyValue: Sendable, Hashable, Codable {
    /// The key (without a leading `/`).
    public var key: String
    /// The value, decoded from Consul's base64.
    public var value: [UInt8]
    /// The index that created the key.
    public var createIndex: UInt64
    /// The index of the last change; pass it as `cas` to update only this version.
    public var modifyIndex: UInt64
    /// How many times a session acquired the key's lock.
    public var lockIndex: UInt64
    /// The opaque flags stored with the value.
    public var flags: UInt64
    /// The session holding the key's lock, if any.
    public var session: String?

    /// The value as UTF-8 text, when it is valid UTF-8.
    public var string: String? { String(bytes: value, encoding: .utf8) }

    /// Creates an entry.
    public init(
        key: String, value: [UInt8], createIndex: UInt64 = 0, modifyIndex: UInt64 = 0, lockIndex: UInt64 = 0,
        flags: UInt64 = 0, session: String? = nil
    ) {
        self.key = key
        self.value = value
        self.createIndex = createIndex
        self.modifyIndex = modifyIndex
        self.lockIndex = lockIndex
        self.flags = flags
        self.session = session
    }

    enum CodingKeys: String, CodingKey {
        case key = "Key", value = "Value", createIndex = "CreateIndex", modifyIndex = "ModifyIndex"
        case lockIndex = "LockIndex", flags = "Flags", session = "Session"
    }

    /// Decodes Consul's JSON (`Value` in base64, `null` for an empty value).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        key = try c.decode(String.self, forKey: .key)
        if let base64 = try c.decodeIfPresent(String.self, forKey: .value) {
            guard let data = Data(base64Encoded: base64) else {
                throw DecodingError.dataCorruptedError(forKey: .value, in: c, debugDescription: "Value is not base64")
            }
            value = Array(data)
        } else {
            value = []
        }
        createIndex = try c.decodeIfPresent(UInt64.self, forKey: .createIndex) ?? 0
        modifyIndex = try c.decodeIfPresent(UInt64.self, forKey: .modifyIndex) ?? 0
        lockIndex = try c.decodeIfPresent(UInt64.self, forKey: .lockIndex) ?? 0
        flags = try c.decodeIfPresent(UInt64.self, forKey: .flags) ?? 0
        session = try c.decodeIfPresent(String.self, forKey: .session)
        if session?.isEmpty == true { session = nil }
    }

    /// Encodes Consul's JSON (`Value` in base64).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(key, forKey: .key)
        try c.encode(Data(value).base64EncodedString(), forKey: .value)
        try c.encode(createIndex, forKey: .createIndex)
        try c.encode(modifyIndex, forKey: .modifyIndex)
        try c.encode(lockIndex, forKey: .lockIndex)
        try c.encode(flags, forKey: .flags)
        try c.encodeIfPresent(session, forKey: .session)
    }
}
