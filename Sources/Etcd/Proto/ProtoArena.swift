import CEtcdProtos

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// C memory for building one protobuf-c request: every byte string, string and nested
/// message is malloc'ed here and freed together when the arena goes away (after packing).
final class ProtoArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for pointer in allocations { free(pointer) }
    }

    func bytes(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty, let raw = malloc(bytes.count) else { return ProtobufCBinaryData(len: 0, data: nil) }
        allocations.append(raw)
        bytes.withUnsafeBytes { raw.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return ProtobufCBinaryData(len: bytes.count, data: raw.assumingMemoryBound(to: UInt8.self))
    }

    func string(_ string: String) -> UnsafeMutablePointer<CChar> {
        let pointer = strdup(string)!
        allocations.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }

    func object<T>(_ value: T) -> UnsafeMutablePointer<T> {
        let raw = malloc(MemoryLayout<T>.stride)!
        allocations.append(raw)
        let pointer = raw.bindMemory(to: T.self, capacity: 1)
        pointer.initialize(to: value)
        return pointer
    }

    func array<T>(_ items: [UnsafeMutablePointer<T>]) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        guard !items.isEmpty else { return nil }
        let raw = malloc(MemoryLayout<UnsafeMutablePointer<T>?>.stride * items.count)!
        allocations.append(raw)
        let pointer = raw.bindMemory(to: UnsafeMutablePointer<T>?.self, capacity: items.count)
        for (i, item) in items.enumerated() { (pointer + i).initialize(to: item) }
        return pointer
    }
}

/// Encoding requests to and decoding responses from etcd's protobuf messages (protoc-c).
enum Proto {
    static func pack<M>(_ message: M, _ size: (UnsafePointer<M>?) -> Int,
                        _ pack: (UnsafePointer<M>?, UnsafeMutablePointer<UInt8>?) -> Int) -> [UInt8] {
        withUnsafePointer(to: message) { pointer in
            let n = size(pointer)
            return [UInt8](unsafeUninitializedCapacity: max(n, 1)) { buffer, count in
                count = pack(pointer, buffer.baseAddress)
            }
        }
    }

    static func unpack<M, R>(
        _ bytes: [UInt8], _ name: String, endpoint: EtcdEndpoint?,
        _ unpack: (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<M>?,
        _ free: (UnsafeMutablePointer<M>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void,
        _ body: (M) throws -> R
    ) throws -> R {
        let message = bytes.withUnsafeBufferPointer { unpack(nil, $0.count, $0.baseAddress) }
        guard let message else {
            throw EtcdError(code: .protocolError,
                            message: "could not decode a \(name) (\(bytes.count) bytes) from etcd\(endpoint.map { " at \($0)" } ?? "") — is it an etcd v3 server?",
                            endpoint: endpoint?.description)
        }
        defer { free(message, nil) }
        return try body(message.pointee)
    }

    static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let pointer = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: data.len))
    }

    static func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: pointer)
    }

    static func list<T, R>(_ count: Int, _ items: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?,
                           _ transform: (T) throws -> R) rethrows -> [R] {
        guard count > 0, let items else { return [] }
        var result = [R]()
        result.reserveCapacity(count)
        for i in 0..<count {
            if let item = items[i] { result.append(try transform(item.pointee)) }
        }
        return result
    }

    static func header(_ pointer: UnsafeMutablePointer<Etcdserverpb__ResponseHeader>?) -> EtcdResponseHeader {
        guard let h = pointer?.pointee else { return EtcdResponseHeader() }
        return EtcdResponseHeader(clusterID: h.cluster_id, memberID: h.member_id, revision: h.revision, raftTerm: h.raft_term)
    }

    static func keyValue(_ kv: Mvccpb__KeyValue) -> EtcdKeyValue {
        EtcdKeyValue(key: bytes(kv.key), value: bytes(kv.value), createRevision: kv.create_revision,
                     modRevision: kv.mod_revision, version: kv.version, lease: kv.lease)
    }
}
