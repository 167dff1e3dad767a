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

/// A C `ACL_vector` owning copies of its strings, valid until `deinit`. The vector itself is
/// heap-allocated so its address is stable: `zoo_create_op_init` keeps the pointer until the
/// multi is sent.
final class CACLVector {
    private let pointer: UnsafeMutablePointer<ACL_vector>
    private let owned: Bool

    init(_ acl: ZooKeeperACL) {
        switch acl {
        case .openUnsafe: pointer = czk_open_acl_unsafe(); owned = false
        case .creatorAll: pointer = czk_creator_all_acl(); owned = false
        case .readUnsafe: pointer = czk_read_acl_unsafe(); owned = false
        case .entries(let entries):
            let buffer = UnsafeMutablePointer<ACL>.allocate(capacity: max(entries.count, 1))
            for (i, entry) in entries.enumerated() {
                (buffer + i).initialize(to: ACL(perms: entry.permissions.rawValue,
                                                id: Id(scheme: strdup(entry.scheme), id: strdup(entry.id))))
            }
            pointer = .allocate(capacity: 1)
            pointer.initialize(to: ACL_vector(count: Int32(entries.count), data: buffer))
            owned = true
        }
    }

    /// The pointer to hand to C; valid while `self` lives.
    func withPointer<R>(_ body: (UnsafeMutablePointer<ACL_vector>) -> R) -> R {
        body(pointer)
    }

    deinit {
        guard owned else { return }
        if let data = pointer.pointee.data {
            for i in 0..<Int(pointer.pointee.count) {
                free(data[i].id.scheme)
                free(data[i].id.id)
            }
            data.deallocate()
        }
        pointer.deallocate()
    }
}

extension ZooKeeperACL.Entry {
    init(_ acl: ACL) {
        self.init(permissions: ZooKeeperPermissions(rawValue: acl.perms),
                  scheme: acl.id.scheme.map { String(cString: $0) } ?? "",
                  id: acl.id.id.map { String(cString: $0) } ?? "")
    }
}
