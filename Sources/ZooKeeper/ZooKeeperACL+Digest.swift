import Crypto
import Foundation

extension ZooKeeperACL.Entry {
    /// An entry for ZooKeeper's `digest` scheme: the identity a session gets from
    /// `addAuth(scheme: "digest", credentials: "user:password")`.
    ///
    /// The id is `user:base64(sha1("user:password"))`, as ZooKeeper's
    /// `DigestAuthenticationProvider.generateDigest` computes it; the password itself is not kept.
    /// - Parameters:
    ///   - user: the user name (must not contain `:`).
    ///   - password: the password.
    ///   - permissions: what the identity may do (default all).
    public static func digest(user: String, password: String, permissions: ZooKeeperPermissions = .all) -> Self {
        let hash = Insecure.SHA1.hash(data: Array("\(user):\(password)".utf8))
        return Self(permissions: permissions, scheme: "digest", id: "\(user):\(Data(hash).base64EncodedString())")
    }

    /// An entry for the `ip` scheme: clients connecting from `address` (an address, or
    /// `address/prefix-bits` for a network).
    public static func ip(_ address: String, permissions: ZooKeeperPermissions = .all) -> Self {
        Self(permissions: permissions, scheme: "ip", id: address)
    }

    /// An entry for `world:anyone`.
    public static func anyone(_ permissions: ZooKeeperPermissions) -> Self {
        Self(permissions: permissions, scheme: "world", id: "anyone")
    }
}
