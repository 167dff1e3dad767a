/// One change seen by a watch.
public struct EtcdWatchEvent: Sendable, Hashable {
    /// What happened to the key.
    public enum EventType: Sendable, Hashable {
        /// The key was created or written.
        case put
        /// The key was deleted (or its lease ended).
        case delete
    }
    /// Put or delete.
    public var type: EventType
    /// The key-value after the event (for a delete: the key, `modRevision` = the delete's revision, empty value).
    public var kv: EtcdKeyValue
    /// The key-value before the event, when the watch asked for it (`prevKV: true`).
    public var prevKV: EtcdKeyValue?

    /// Creates an event.
    public init(type: EventType, kv: EtcdKeyValue, prevKV: EtcdKeyValue?) {
        self.type = type
        self.kv = kv
        self.prevKV = prevKV
    }
}
