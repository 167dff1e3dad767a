/// Checks done before anything reaches the C client, so bad input fails with a clear
/// `.badArguments` error instead of a crash, a generic C error or a dropped connection.
enum Validation {
    /// A znode path: absolute, no empty, `.` or `..` components, no NUL, no trailing `/`
    /// (except the root, and a sequential create's parent prefix `"/parent/"`).
    static func path(_ path: String, allowTrailingSlash: Bool = false) throws {
        func reject(_ why: String) -> ZooKeeperError {
            .badArguments("invalid znode path \"\(path.replacingNUL)\": \(why) — paths are absolute like \"/app/config\"",
                          path: path)
        }
        // One pass over the UTF-8 bytes: Character-wise (first, last, split) this cost ~11,700
        // instructions per call, a sixth of a get (scripts/profile.sh).
        let utf8 = path.utf8
        guard let first = utf8.first else { throw reject("it is empty") }
        guard first == UInt8(ascii: "/") else { throw reject("it is relative (must start with \"/\")") }
        let count = utf8.count
        if count == 1 { return }
        let trailing = utf8.last == UInt8(ascii: "/")
        let end = trailing ? count - 1 : count  // the body is bytes 1..<end
        var hasNUL = false
        var problem: String?
        var componentLength = 0
        var dots = 0
        var offset = 0
        for byte in utf8 {
            defer { offset += 1 }
            if byte == 0 { hasNUL = true }
            guard offset >= 1, offset <= end, problem == nil else { continue }
            if offset == end || byte == UInt8(ascii: "/") {
                if componentLength == 0 {
                    problem = "it contains an empty component (\"//\")"
                } else if dots == componentLength, dots <= 2 {
                    problem = "it contains a \"\(dots == 1 ? "." : "..")\" component"
                }
                componentLength = 0
                dots = 0
                if offset == end { continue }
            } else {
                componentLength += 1
                if byte == UInt8(ascii: ".") { dots += 1 }
            }
        }
        if end == count, problem == nil {  // the last component ends with the string
            if componentLength == 0 {
                problem = "it contains an empty component (\"//\")"
            } else if dots == componentLength, dots <= 2 {
                problem = "it contains a \"\(dots == 1 ? "." : "..")\" component"
            }
        }
        guard !hasNUL else { throw reject("it contains a NUL character") }
        if trailing {
            guard allowTrailingSlash else { throw reject("it ends with \"/\"") }
            if end == 1 { return }
        }
        if let problem { throw reject(problem) }
    }

    static func data(_ data: [UInt8], limit: Int, path: String) throws {
        guard data.count <= limit else {
            throw ZooKeeperError.badArguments(
                "data for \(path) is \(data.count) bytes, over the \(limit)-byte limit (ZooKeeper's jute.maxbuffer is 1 MiB by default) — store large values elsewhere and keep a reference in ZooKeeper",
                path: path)
        }
    }

    /// `host:port[,host:port…][/chroot]`.
    static func connectString(_ string: String) throws {
        func reject(_ why: String) -> ZooKeeperError {
            .badArguments("invalid ZooKeeper connect string \"\(string.replacingNUL)\": \(why) — expected \"host:port[,host:port…][/chroot]\", e.g. \"127.0.0.1:2181\"")
        }
        guard !string.isEmpty else { throw reject("it is empty") }
        guard !string.utf8.contains(0) else { throw reject("it contains a NUL character") }
        var hosts = Substring(string)
        if let slash = string.firstIndex(of: "/") {
            hosts = string[..<slash]
            let chroot = String(string[slash...])
            if chroot != "/" {
                do { try path(chroot) } catch { throw reject("the chroot \"\(chroot)\" is not a valid absolute path") }
            }
        }
        guard !hosts.isEmpty else { throw reject("it names no host") }
        for host in hosts.split(separator: ",", omittingEmptySubsequences: false) {
            guard !host.isEmpty else { throw reject("it contains an empty host entry") }
            guard let colon = host.lastIndex(of: ":") else { throw reject("\"\(host)\" has no port") }
            let name = host[..<colon], port = host[host.index(after: colon)...]
            guard !name.isEmpty, !name.contains(where: { $0 == " " }) else { throw reject("\"\(host)\" has no host name") }
            guard let number = Int(port), (1...65535).contains(number) else {
                throw reject("\"\(host)\" has an invalid port \"\(port)\"")
            }
        }
    }
}

extension String {
    fileprivate var replacingNUL: String { replacingOccurrences(of: "\0", with: "\\0") }
}
