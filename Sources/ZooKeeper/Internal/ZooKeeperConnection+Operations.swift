import CZooKeeper
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The `zoo_a*` calls. Each completion (`ZooKeeperCallbacks`) takes back its retained box and
/// resumes it; the C client owns the buffers it passes, so everything is copied before returning.
extension ZooKeeperConnection {
    func create(_ path: String, data: [UInt8], mode: ZooKeeperCreateMode, acl: ZooKeeperACL) async throws -> (String, ZooKeeperStat) {
        try Validation.path(path, allowTrailingSlash: mode.isSequential)
        try Validation.data(data, limit: configuration.maximumDataSize, path: path)
        if mode.ttlMilliseconds != -1, mode.ttlMilliseconds <= 0 {
            throw ZooKeeperError.badArguments("create \(path): a TTL must be at least 1 ms", path: path)
        }
        let cACL = CACLVector(acl)
        return try await perform("create", path: path) { zh, context in
            withBytes(data) { bytes, count in
                cACL.withPointer { aclPointer in
                    zoo_acreate2_ttl(zh, path, bytes, count, aclPointer, mode.cMode, mode.ttlMilliseconds, ZooKeeperCallbacks.created, context)
                }
            }
        }
    }

    func getData(_ path: String, watchToken: Int? = nil) async throws -> ([UInt8], ZooKeeperStat) {
        try Validation.path(path)
        return try await perform("get", path: path) { zh, context in
            if let watchToken {
                return zoo_awget(zh, path, ZooKeeperCallbacks.watchWatcher, UnsafeMutableRawPointer(bitPattern: watchToken), ZooKeeperCallbacks.data, context)
            }
            return zoo_aget(zh, path, 0, ZooKeeperCallbacks.data, context)
        }
    }

    func set(_ path: String, data: [UInt8], version: Int32) async throws -> ZooKeeperStat {
        try Validation.path(path)
        try Validation.data(data, limit: configuration.maximumDataSize, path: path)
        return try await perform("set", path: path) { zh, context in
            withBytes(data) { bytes, count in
                zoo_aset(zh, path, bytes, count, version, ZooKeeperCallbacks.stat, context)
            }
        }
    }

    func delete(_ path: String, version: Int32) async throws {
        try Validation.path(path)
        if path == "/" { throw ZooKeeperError.badArguments("the root node cannot be deleted", path: path) }
        let _: Bool = try await perform("delete", path: path) { zh, context in
            zoo_adelete(zh, path, version, ZooKeeperCallbacks.void, context)
        }
    }

    func exists(_ path: String, watchToken: Int? = nil) async throws -> ZooKeeperStat? {
        try Validation.path(path)
        return try await perform("exists", path: path) { zh, context in
            if let watchToken {
                return zoo_awexists(zh, path, ZooKeeperCallbacks.watchWatcher, UnsafeMutableRawPointer(bitPattern: watchToken), ZooKeeperCallbacks.exists, context)
            }
            return zoo_aexists(zh, path, 0, ZooKeeperCallbacks.exists, context)
        }
    }

    func getChildren(_ path: String, watchToken: Int? = nil) async throws -> ([String], ZooKeeperStat) {
        try Validation.path(path)
        return try await perform("children", path: path) { zh, context in
            if let watchToken {
                return zoo_awget_children2(zh, path, ZooKeeperCallbacks.watchWatcher, UnsafeMutableRawPointer(bitPattern: watchToken), ZooKeeperCallbacks.children, context)
            }
            return zoo_aget_children2(zh, path, 0, ZooKeeperCallbacks.children, context)
        }
    }

    func sync(_ path: String) async throws {
        try Validation.path(path)
        let _: Bool = try await perform("sync", path: path) { zh, context in
            zoo_async(zh, path, ZooKeeperCallbacks.synced, context)
        }
    }

    func getACL(_ path: String) async throws -> ([ZooKeeperACL.Entry], ZooKeeperStat) {
        try Validation.path(path)
        return try await perform("getACL", path: path) { zh, context in
            zoo_aget_acl(zh, path, ZooKeeperCallbacks.acl, context)
        }
    }

    func setACL(_ path: String, acl: ZooKeeperACL, version: Int32) async throws {
        try Validation.path(path)
        let cACL = CACLVector(acl)
        let _: Bool = try await perform("setACL", path: path) { zh, context in
            cACL.withPointer { aclPointer in
                zoo_aset_acl(zh, path, version, aclPointer, ZooKeeperCallbacks.void, context)
            }
        }
    }

    func addAuth(scheme: String, credentials: [UInt8]) async throws {
        guard !scheme.isEmpty, !scheme.utf8.contains(0) else {
            throw ZooKeeperError.badArguments("addAuth: the scheme must be a non-empty name such as \"digest\"")
        }
        let _: Bool = try await perform("addAuth", path: nil) { zh, context in
            withBytes(credentials) { bytes, count in
                zoo_add_auth(zh, scheme, bytes, count, ZooKeeperCallbacks.void, context)
            }
        }
        // A session opened after expiry gets it again.
        rememberAuth(scheme: scheme, credentials: credentials)
    }

    func multi(_ operations: [ZooKeeperOperation]) async throws -> [ZooKeeperOperationResult] {
        if operations.isEmpty { return [] }
        for operation in operations {
            switch operation {
            case .create(let path, let data, let mode, _):
                try Validation.path(path, allowTrailingSlash: mode.isSequential)
                try Validation.data(data, limit: configuration.maximumDataSize, path: path)
                if mode.ttlMilliseconds != -1 {
                    throw ZooKeeperError.badArguments("multi: the C client cannot create TTL nodes inside a multi — create \(path) on its own", path: path)
                }
            case .set(let path, let data, _):
                try Validation.path(path)
                try Validation.data(data, limit: configuration.maximumDataSize, path: path)
            case .delete(let path, _), .check(let path, _):
                try Validation.path(path)
            }
        }
        let storage = MultiStorage(operations)
        return try await perform("multi", path: nil, keepAlive: storage) { zh, context in
            zoo_amulti(zh, Int32(storage.count), storage.ops, storage.results, ZooKeeperCallbacks.multi, context)
        }
    }
}

/// Data as the C client takes it; an empty array still gets a valid pointer.
private func withBytes<R>(_ data: [UInt8], _ body: (UnsafePointer<CChar>, Int32) -> R) -> R {
    if data.isEmpty {
        var empty: CChar = 0
        return body(&empty, 0)
    }
    return data.withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!, Int32($0.count)) }
    }
}

/// Every buffer a `zoo_amulti` call reads or writes, alive until its completion has run
/// (the box keeps it, and the C client keeps the box).
final class MultiStorage: @unchecked Sendable {
    // @unchecked: written by the C client before the completion, read only in the completion.
    let operations: [ZooKeeperOperation]
    let count: Int
    let ops: UnsafeMutablePointer<zoo_op_t>
    let results: UnsafeMutablePointer<zoo_op_result_t>
    private var strings: [UnsafeMutablePointer<CChar>] = []
    private var acls: [CACLVector] = []
    private var pathBuffers: [Int: UnsafeMutablePointer<CChar>] = [:]
    private var stats: [Int: UnsafeMutablePointer<Stat>] = [:]
    private static let pathBufferSize = 4096

    init(_ operations: [ZooKeeperOperation]) {
        self.operations = operations
        count = operations.count
        ops = .allocate(capacity: count)
        ops.initialize(repeating: zoo_op_t(), count: count)
        results = .allocate(capacity: count)
        results.initialize(repeating: zoo_op_result_t(), count: count)
        for (i, operation) in operations.enumerated() {
            let op = ops + i
            switch operation {
            case .create(let path, let data, let mode, let acl):
                let cACL = CACLVector(acl)
                acls.append(cACL)
                let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: Self.pathBufferSize)
                buffer.initialize(repeating: 0, count: Self.pathBufferSize)
                pathBuffers[i] = buffer
                let (bytes, length) = copy(data)
                cACL.withPointer { aclPointer in
                    zoo_create_op_init(op, copy(path), bytes, length, aclPointer, mode.cMode, buffer, Int32(Self.pathBufferSize))
                }
            case .set(let path, let data, let version):
                let stat = UnsafeMutablePointer<Stat>.allocate(capacity: 1)
                stat.initialize(to: Stat())
                stats[i] = stat
                let (bytes, length) = copy(data)
                zoo_set_op_init(op, copy(path), bytes, length, version, stat)
            case .delete(let path, let version):
                zoo_delete_op_init(op, copy(path), version)
            case .check(let path, let version):
                zoo_check_op_init(op, copy(path), version)
            }
        }
    }

    private func copy(_ string: String) -> UnsafeMutablePointer<CChar> {
        let pointer = strdup(string)!
        strings.append(pointer)
        return pointer
    }

    private func copy(_ data: [UInt8]) -> (UnsafeMutablePointer<CChar>, Int32) {
        let pointer = calloc(max(data.count, 1), 1)!.assumingMemoryBound(to: CChar.self)
        data.withUnsafeBytes { UnsafeMutableRawPointer(pointer).copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(pointer), byteCount: data.count) }
        strings.append(pointer)
        return (pointer, Int32(data.count))
    }

    func successResults() -> [ZooKeeperOperationResult] {
        operations.enumerated().map { i, operation in
            switch operation {
            case .create: .created(path: String(cString: pathBuffers[i]!))
            case .set: .set(ZooKeeperStat(stats[i]!.pointee))
            case .delete: .deleted
            case .check: .checked
            }
        }
    }

    /// The error of a failed multi: the first operation whose own result is an error other
    /// than "not applied because another failed".
    func failure(_ rc: Int32) -> ZooKeeperError {
        for i in 0..<count {
            let err = results[i].err
            if err != ZOK.rawValue && err != ZRUNTIMEINCONSISTENCY.rawValue {
                let name = switch operations[i] {
                case .create: "create"
                case .set: "set"
                case .delete: "delete"
                case .check: "check"
                }
                var error = ZooKeeperError(returnCode: err, operation: "multi operation #\(i) (\(name))",
                                           path: operations[i].path, failedOperationIndex: i)
                error.message += " — no operation of the multi was applied"
                return error
            }
        }
        return ZooKeeperError(returnCode: rc, operation: "multi", path: nil)
    }

    deinit {
        for pointer in strings { free(pointer) }
        for buffer in pathBuffers.values { buffer.deallocate() }
        for stat in stats.values { stat.deallocate() }
        ops.deallocate()
        results.deallocate()
    }
}
