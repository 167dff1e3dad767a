import Etcd
import Foundation
import StoreTestSupport
import Testing

/// What EtcdClient writes, etcd's own `etcdctl` reads back byte for byte, and the reverse.
@Suite("EtcdClient and etcdctl interoperate", .enabled(if: EtcdTest.enabled))
struct EtcdInteropTests {
    struct GetOutput: Decodable {
        struct KV: Decodable {
            var key: String
            var value: String?
            var mod_revision: Int64
            var lease: Int64?
        }
        var kvs: [KV]?
    }

    @Test("a binary value put by EtcdClient is read back byte for byte by etcdctl")
    func clientToEtcdctl() async throws {
        try await EtcdTest.withClient { etcd in
            let key = EtcdTest.prefix() + "bin"
            let value: [UInt8] = Array(0...255) + Array("é✓".utf8)
            let put = try await etcd.put(key, value: value)
            let (status, output) = try etcdctl(["--endpoints", try EtcdTest.endpoints()[0], "get", key, "-w", "json"])
            #expect(status == 0)
            let decoded = try JSONDecoder().decode(GetOutput.self, from: output)
            let kv = try #require(decoded.kvs?.first)
            #expect(Data(base64Encoded: kv.key).map { [UInt8]($0) } == Array(key.utf8))
            #expect(Data(base64Encoded: kv.value ?? "").map { [UInt8]($0) } == value)
            #expect(kv.mod_revision == put.header.revision)
        }
    }

    @Test("a value put by etcdctl is read back byte for byte by EtcdClient, and its delete is seen by a watch")
    func etcdctlToClient() async throws {
        try await EtcdTest.withClient { etcd in
            let key = EtcdTest.prefix() + "text"
            let text = "héllo wörld ✓\ttab 🚀"
            let endpoint = try EtcdTest.endpoints()[0]
            #expect(try etcdctl(["--endpoints", endpoint, "put", key, text]).status == 0)
            let kv = try #require(try await etcd.get(key))
            #expect(kv.value == Array(text.utf8))
            #expect(kv.version == 1)

            let watch = etcd.watch(key, fromRevision: kv.modRevision + 1)
            #expect(try etcdctl(["--endpoints", endpoint, "del", key]).status == 0)
            let events = try await collect(watch, count: 1)
            #expect(events.first?.type == .delete)
            #expect(events.first?.kv.keyString == key)
        }
    }
}
