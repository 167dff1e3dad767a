/// A stored value and the store's version of it.
///
/// The version is ZooKeeper's `stat.version`, etcd's `mod_revision` or Consul's `ModifyIndex`.
public struct VersionedValue: Sendable, Hashable {
    /// The stored bytes.
    public var bytes: [UInt8]
    /// The store's version of them, what a compare-and-swap compares against.
    public var version: UInt64

    /// Creates a versioned value.
    public init(bytes: [UInt8], version: UInt64) {
        self.bytes = bytes
        self.version = version
    }
}

/// What a create-if-absent did.
public enum CreateResult: Sendable, Hashable {
    /// The key did not exist; it now holds the value at this version.
    case created(version: UInt64)
    /// The key already existed; this is its current value (no second read needed).
    case exists(VersionedValue)
}

/// What a compare-and-swap did.
public enum SwapResult: Sendable, Hashable {
    /// The expected version matched; the value was written and has this new version.
    case swapped(version: UInt64)
    /// Another writer was first. `current` is the fresh value (nil: the key is gone), returned in
    /// the same round trip where the store allows it.
    case conflict(current: VersionedValue?)
}

/// The store operations `NodeListStore` needs: one value per key, read with its version,
/// created only if absent, replaced only by compare-and-swap, and watched.
///
/// ZooKeeper, etcd and Consul implementations ship in the `NodeListZooKeeper`, `NodeListEtcd`
/// and `NodeListConsul` modules (`.zooKeeper(_:)`, `.etcd(_:)`, `.consul(_:)`).
public protocol NodeListBackend: Sendable {
    /// A short description of the store for messages, e.g. `etcd`.
    var storeName: String { get }

    /// Reads the value at `key` with a consistent (linearizable) read.
    /// - Returns: The value and its version, or nil when the key does not exist.
    func read(key: String) async throws -> VersionedValue?

    /// Creates `key` with `value` unless it exists; when it exists returns its current value.
    func createIfAbsent(key: String, value: [UInt8]) async throws -> CreateResult

    /// Replaces the value at `key` only if its version is still `expected`.
    func compareAndSwap(key: String, expected: UInt64, value: [UInt8]) async throws -> SwapResult

    /// The value at `key` now (nil if absent) and then after each change the store reports.
    ///
    /// The sequence ends when the consuming task is cancelled; it throws when the watch fails
    /// for good.
    func changes(key: String) -> AsyncThrowingStream<VersionedValue?, any Error>

    /// The largest value the store accepts at `key`, when it has a known limit (nil: none).
    /// `NodeListStore` refuses to write a bigger list with `NodeListError` `.valueTooLarge`.
    func maximumValueSize(key: String) -> Int?

    /// When `error` is the store refusing (missing) credentials: what to tell the user, in one
    /// clause naming the store's code and what to pass; `NodeListStore` then throws
    /// `NodeListError` `.accessDenied`. nil (the default) for any other error.
    func accessDeniedAdvice(for error: any Error) -> String?

    /// `error`, when it is the store client's, in one line for a wrapping message: what happened
    /// and what to do, naming the cause once, without the error's type and code. nil (the
    /// default): the error's own description is used.
    func summary(of error: any Error) -> String?
}

extension NodeListBackend {
    /// No known limit.
    public func maximumValueSize(key: String) -> Int? { nil }

    /// No error is an access refusal.
    public func accessDeniedAdvice(for error: any Error) -> String? { nil }

    /// No summary of its own: the error's description is used.
    public func summary(of error: any Error) -> String? { nil }

    /// The key of the shared secret kept beside the list at `key`: `key + ".secret"`.
    public func secretKey(for key: String) -> String { key + ".secret" }
}
