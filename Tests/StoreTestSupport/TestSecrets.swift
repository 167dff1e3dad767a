#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif


/// The secrets the tests use, registered so that `scripts/test.sh` can check that none of them
/// appears in any log line or error text of the whole run (see ``TestLogCapture``).
///
/// With `AUTOCLUSTER_TEST_SECRETS_FILE` set, every registered secret is appended to that file,
/// one `KIND<TAB>SECRET` per line; without it registering does nothing. Secrets shorter than 8
/// characters are not registered (they would match ordinary text). `scripts/scan-secrets.sh`
/// searches each in its percent-, JSON- and base64-encoded forms too, and its self-check plants
/// one secret of each kind.
public enum TestSecrets {
    /// What a secret is; the scan reports findings by kind (never the secret).
    public struct Kind: Sendable, Hashable {
        public let name: String
        public init(_ name: String) { self.name = name }

        /// A password or credential a test chose (store users, digest credentials, URLs' `user:password`).
        public static let password = Kind("a test password")
        /// The token etcd's `Authenticate` returned, which the client sends as `token` metadata.
        public static let etcdToken = Kind("etcd auth token")
        /// A ZooKeeper session's 16-byte password (whoever has it can resume the session).
        public static let zooKeeperSession = Kind("ZooKeeper session password")
        /// A Consul ACL token (sent as `X-Consul-Token`).
        public static let consulToken = Kind("Consul ACL token")
    }

    private static let lock = TestMutex(())

    /// Registers `secrets` of `kind` for the end-of-run scan.
    public static func register(_ secrets: [String], as kind: Kind = .password) {
        guard let path = TestStores.environment("AUTOCLUSTER_TEST_SECRETS_FILE") else { return }
        let lines = secrets.filter { $0.count >= 8 && !$0.contains("\n") && !$0.contains("\t") }
            .map { kind.name + "\t" + $0 + "\n" }.joined()
        guard !lines.isEmpty else { return }
        lock.withLock { _ in
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return }
            defer { close(fd) }
            var bytes = Array(lines.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if written <= 0 { return }
                bytes = bytes.dropFirst(written)
            }
        }
    }

    /// Registers a ZooKeeper session password (16 raw bytes) in the textual forms it could be
    /// printed in: hex (both cases), base64, and Swift's `[UInt8]` description.
    public static func registerZooKeeperSession(password: [UInt8]) {
        guard password.contains(where: { $0 != 0 }) else { return }
        let hex = password.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
        register([hex, hex.uppercased(), base64(password), "\(password)"], as: .zooKeeperSession)
    }

    /// Standard base64 with padding (no Foundation in this target).
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            let b0 = UInt32(bytes[i]), b1 = n > 1 ? UInt32(bytes[i + 1]) : 0, b2 = n > 2 ? UInt32(bytes[i + 2]) : 0
            let v = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(n > 1 ? alphabet[Int(v >> 6 & 63)] : "=")
            out.append(n > 2 ? alphabet[Int(v & 63)] : "=")
            i += 3
        }
        return out
    }
}
