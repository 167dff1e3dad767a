/// A user name and password (or a Consul ACL token) for a store.
///
/// No text rendering of it — `description`, `debugDescription`, `dump`, string
/// interpolation — shows the password; the user name is shown only beside a password (a lone
/// user name may be a Consul token). The secret leaves the value only into the store client's
/// configuration.
///
/// - etcd: the user and password of etcd's authentication (`Authenticate` RPC).
/// - ZooKeeper: `digest` credentials (`addAuth("digest", "user:password")`); nodes the
///   node list creates get a digest ACL for exactly this identity.
/// - Consul: the ACL token is ``password``, or ``username`` when there is no password
///   (`consul://TOKEN@host`).
public struct StoreCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The user name (empty for a Consul token given as `:TOKEN@`).
    public var username: String
    /// The password, or nil when only a user name was given.
    public var password: String?

    /// Creates credentials.
    /// - Parameters:
    ///   - username: The user name.
    ///   - password: The password (nil: none).
    public init(username: String, password: String?) {
        self.username = username
        self.password = password
    }

    /// The Consul ACL token these credentials stand for: the password, else the user name.
    public var consulToken: String? {
        if let password, !password.isEmpty { return password }
        return username.isEmpty ? nil : username
    }

    /// `StoreCredentials(username: NAME, password: ***)`: never the password.
    public var description: String { "StoreCredentials(username: \(shownUsername), password: ***)" }

    private var shownUsername: String { password == nil ? "***" : username }

    /// Same as ``description``.
    public var debugDescription: String { description }

    /// A mirror without the password (for `dump` and debuggers).
    public var customMirror: Mirror {
        Mirror(self, children: ["username": shownUsername, "password": "***"])
    }
}
