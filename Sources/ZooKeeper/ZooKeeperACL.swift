import CZooKeeper
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The access control list of a znode.
public enum ZooKeeperACL: Hashable, Sendable {
    /// Anyone may do anything (`world:anyone`, all permissions). Unsafe outside trusted networks.
    case openUnsafe
    /// All permissions for the identities the session authenticated as (`auth` scheme).
    /// Needs an ``ZooKeeperClient/addAuth(scheme:credentials:)`` first, or the server answers `.invalidACL`.
    case creatorAll
    /// Anyone may read (`world:anyone`, read only).
    case readUnsafe
    /// Explicit entries, e.g. `.init(permissions: .all, scheme: "digest", id: "user:base64hash")`.
    case entries([Entry])

    /// One ACL entry: who (`scheme`, `id`) may do what (`permissions`).
    public struct Entry: Hashable, Sendable {
        /// What the identity may do.
        public var permissions: ZooKeeperPermissions
        /// The scheme: `world`, `auth`, `digest`, `ip`, …
        public var scheme: String
        /// The identity within the scheme: `anyone`, `user:base64(sha1(user:password))`, `127.0.0.1`, …
        public var id: String

        /// Creates an entry.
        public init(permissions: ZooKeeperPermissions, scheme: String, id: String) {
            self.permissions = permissions
            self.scheme = scheme
            self.id = id
        }
    }

    /// The entries this ACL stands for (the presets expanded).
    public var resolvedEntries: [Entry] {
        switch self {
        case .openUnsafe: return [Entry(permissions: .all, scheme: "world", id: "anyone")]
        case .creatorAll: return [Entry(permissions: .all, scheme: "auth", id: "")]
        case .readUnsafe: return [Entry(permissions: .read, scheme: "world", id: "anyone")]
        case .entries(let entries): return entries
        }
    }
}

/// Permission bits of an ACL entry.
public struct ZooKeeperPermissions: OptionSet, Hashable, Sendable {
    public let rawValue: Int32
    /// Creates permissions from ZooKeeper's bit mask.
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// Read the node's data and list its children.
    public static let read = ZooKeeperPermissions(rawValue: 1)
    /// Set the node's data.
    public static let write = ZooKeeperPermissions(rawValue: 2)
    /// Create children.
    public static let create = ZooKeeperPermissions(rawValue: 4)
    /// Delete children.
    public static let delete = ZooKeeperPermissions(rawValue: 8)
    /// Set the node's ACL.
    public static let admin = ZooKeeperPermissions(rawValue: 16)
    /// Every permission.
    public static let all: ZooKeeperPermissions = [.read, .write, .create, .delete, .admin]
}

/// A C `ACL_vector` owning copies of its strings, valid until `deinit`.
final class CACLVector {
    private(set) var vector: ACL_vector
    private let presetPointer: UnsafeMutablePointer<ACL_vector>?

    init(_ acl: ZooKeeperACL) {
        switch acl {
        case .openUnsafe: presetPointer = czk_open_acl_unsafe()
        case .creatorAll: presetPointer = czk_creator_all_acl()
        case .readUnsafe: presetPointer = czk_read_acl_unsafe()
        case .entries: presetPointer = nil
        }
        if case .entries(let entries) = acl {
            let buffer = UnsafeMutablePointer<ACL>.allocate(capacity: max(entries.count, 1))
            for (i, entry) in entries.enumerated() {
                (buffer + i).initialize(to: ACL(perms: entry.permissions.rawValue,
                                                id: Id(scheme: strdup(entry.scheme), id: strdup(entry.id))))
            }
            vector = ACL_vector(count: Int32(entries.count), data: buffer)
        } else {
            vector = ACL_vector(count: 0, data: nil)
        }
    }

    /// The pointer to hand to C; valid while `self` lives.
    func withPointer<R>(_ body: (UnsafeMutablePointer<ACL_vector>) -> R) -> R {
        if let presetPointer { return body(presetPointer) }
        return withUnsafeMutablePointer(to: &vector) { body($0) }
    }

    deinit {
        guard presetPointer == nil, let data = vector.data else { return }
        for i in 0..<Int(vector.count) {
            free(data[i].id.scheme)
            free(data[i].id.id)
        }
        data.deallocate()
    }
}

extension ZooKeeperACL.Entry {
    init(_ acl: ACL) {
        self.init(permissions: ZooKeeperPermissions(rawValue: acl.perms),
                  scheme: acl.id.scheme.map { String(cString: $0) } ?? "",
                  id: acl.id.id.map { String(cString: $0) } ?? "")
    }
}
