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
        let hash = SHA1.hash(Array("\(user):\(password)".utf8))
        return Self(permissions: permissions, scheme: "digest", id: "\(user):\(Base64.encode(hash))")
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

/// SHA-1, only for ZooKeeper's digest ids (not used for anything security-sensitive here: the
/// server defines the scheme).
enum SHA1 {
    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
        var padded = message
        padded.append(0x80)
        while padded.count % 64 != 56 { padded.append(0) }
        let bitLength = UInt64(message.count) * 8
        for shift in stride(from: 56, through: 0, by: -8) { padded.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: padded.count, by: 64) {
            for i in 0..<16 {
                let j = chunk + i * 4
                w[i] = UInt32(padded[j]) << 24 | UInt32(padded[j + 1]) << 16 | UInt32(padded[j + 2]) << 8 | UInt32(padded[j + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = h
            for i in 0..<80 {
                let f: UInt32, k: UInt32
                switch i {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
                default: f = b ^ c ^ d; k = 0xCA62_C1D6
                }
                let t = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                e = d; d = c; c = b << 30 | b >> 2; b = a; a = t
            }
            h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
        }
        return [h.0, h.1, h.2, h.3, h.4].flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> UInt32(24 - $0 * 8)) } }
    }
}

enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        for i in stride(from: 0, to: bytes.count, by: 3) {
            let n = min(3, bytes.count - i)
            let b0 = bytes[i], b1 = n > 1 ? bytes[i + 1] : 0, b2 = n > 2 ? bytes[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(n > 1 ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(n > 2 ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }
}
