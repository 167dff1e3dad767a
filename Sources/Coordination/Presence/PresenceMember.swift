/// One live entry of a presence group (``Presence/members()``).
public struct PresenceMember: Sendable, Hashable {
    /// The member's name, unique in the group.
    public var name: String
    /// The value the member registered with.
    public var value: [UInt8]

    /// The value as UTF-8 text.
    public var string: String { String(decoding: value, as: UTF8.self) }

    /// Creates a member.
    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }
}
