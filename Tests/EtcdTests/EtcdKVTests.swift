import Etcd
import Foundation
import StoreTestSupport
import Testing

@Suite("EtcdClient key-value against a real etcd", .enabled(if: EtcdTest.enabled))
struct EtcdKVTests {
    @Test("put then get returns the value and its revisions")
    func putGet() async throws {
        try await EtcdTest.withClient { etcd in
            let key = EtcdTest.prefix() + "k"
            let put = try await etcd.put(key, value: "v1".bytes)
            #expect(put.header.revision > 0)
            let kv = try #require(try await etcd.get(key))
            #expect(kv.keyString == key)
            #expect(kv.value == "v1".bytes)
            #expect(kv.modRevision == put.header.revision)
            #expect(kv.createRevision == put.header.revision)
            #expect(kv.version == 1)
            #expect(kv.lease == 0)

            let second = try await etcd.put(key, value: "v2".bytes)
            let kv2 = try #require(try await etcd.get(key))
            #expect(kv2.value == "v2".bytes)
            #expect(kv2.version == 2)
            #expect(kv2.createRevision == put.header.revision)
            #expect(kv2.modRevision == second.header.revision)
        }
    }

    @Test("get of a missing key is nil")
    func getMissing() async throws {
        try await EtcdTest.withClient { etcd in
            let kv = try await etcd.get(EtcdTest.prefix() + "absent")
            #expect(kv == nil)
        }
    }

    @Test("binary values and empty values round-trip byte for byte")
    func binaryValues() async throws {
        try await EtcdTest.withClient { etcd in
            let p = EtcdTest.prefix()
            let binary: [UInt8] = Array(0...255) + [0, 0, 255]
            try await etcd.put(p + "bin", value: binary)
            try await etcd.put(p + "empty", value: [])
            #expect(try await etcd.get(p + "bin")?.value == binary)
            let empty = try #require(try await etcd.get(p + "empty"))
            #expect(empty.value.isEmpty)
        }
    }

    @Test("range(prefix:) returns exactly the keys under the prefix, in order, honouring limit")
    func rangePrefix() async throws {
        try await EtcdTest.withClient { etcd in
            let p = EtcdTest.prefix()
            for i in 0..<5 { try await etcd.put(p + "k\(i)", value: "\(i)".bytes) }
            try await etcd.put(String(p.dropLast()) + "0-outside", value: [1])
            let all = try await etcd.range(prefix: p)
            #expect(all.kvs.map(\.keyString) == (0..<5).map { p + "k\($0)" })
            #expect(all.count == 5)
            #expect(all.more == false)
            let two = try await etcd.range(prefix: p, limit: 2)
            #expect(two.kvs.map(\.keyString) == [p + "k0", p + "k1"])
            #expect(two.more)
            #expect(two.count == 5)
            #expect(two.header.revision >= all.header.revision)
        }
    }

    @Test("range options: revision, keysOnly, countOnly, sort, fromKey")
    func rangeOptions() async throws {
        try await EtcdTest.withClient { etcd in
            let p = EtcdTest.prefix()
            let first = try await etcd.put(p + "a", value: "old".bytes)
            try await etcd.put(p + "a", value: "new".bytes)
            try await etcd.put(p + "b", value: "b".bytes)

            var atRevision = EtcdRangeRequest(key: p + "a")
            atRevision.revision = first.header.revision
            #expect(try await etcd.range(atRevision).kvs.first?.value == "old".bytes)

            var keysOnly = EtcdRangeRequest.prefix(p)
            keysOnly.keysOnly = true
            let keys = try await etcd.range(keysOnly)
            #expect(keys.kvs.map(\.keyString) == [p + "a", p + "b"])
            #expect(keys.kvs.allSatisfy { $0.value.isEmpty })

            var countOnly = EtcdRangeRequest.prefix(p)
            countOnly.countOnly = true
            let counted = try await etcd.range(countOnly)
            #expect(counted.count == 2)
            #expect(counted.kvs.isEmpty)

            var sorted = EtcdRangeRequest.prefix(p)
            sorted.sortOrder = .descend
            sorted.sortTarget = .key
            #expect(try await etcd.range(sorted).kvs.map(\.keyString) == [p + "b", p + "a"])

            var serializable = EtcdRangeRequest(key: p + "b")
            serializable.serializable = true
            #expect(try await etcd.range(serializable).kvs.first?.value == "b".bytes)

            let fromKey = EtcdRangeRequest(key: Array((p + "b").utf8), rangeEnd: EtcdRangeRequest.prefix(p).rangeEnd)
            #expect(try await etcd.range(fromKey).kvs.map(\.keyString) == [p + "b"])
        }
    }

    @Test("put with prevKV returns the previous value; delete with prevKV the deleted ones")
    func prevKV() async throws {
        try await EtcdTest.withClient { etcd in
            let p = EtcdTest.prefix()
            try await etcd.put(p + "k", value: "one".bytes)
            var put = EtcdPutRequest(key: p + "k", value: "two".bytes)
            put.prevKV = true
            #expect(try await etcd.put(put).prevKV?.value == "one".bytes)

            var delete = EtcdDeleteRequest(key: p + "k")
            delete.prevKV = true
            let deleted = try await etcd.delete(delete)
            #expect(deleted.deleted == 1)
            #expect(deleted.prevKVs.map(\.value) == ["two".bytes])
        }
    }

    @Test("delete of a key and of a prefix report how many keys went")
    func deletes() async throws {
        try await EtcdTest.withClient { etcd in
            let p = EtcdTest.prefix()
            for i in 0..<3 { try await etcd.put(p + "d/\(i)", value: [UInt8(i)]) }
            try await etcd.put(p + "keep", value: [1])
            #expect(try await etcd.delete(p + "d/0") == 1)
            #expect(try await etcd.delete(p + "d/0") == 0)
            #expect(try await etcd.delete(prefix: p + "d/") == 2)
            #expect(try await etcd.range(prefix: p).kvs.map(\.keyString) == [p + "keep"])
        }
    }

    @Test("an empty key is rejected before anything is sent")
    func emptyKey() async throws {
        try await EtcdTest.withClient { etcd in
            let error = await #expect(throws: EtcdError.self) { try await etcd.put("", value: [1]) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("empty") == true)
            let getError = await #expect(throws: EtcdError.self) { _ = try await etcd.get("") }
            #expect(getError?.code == .invalidArgument)
        }
    }

    @Test("a value over the maximum request size is rejected with a clear error")
    func valueTooLarge() async throws {
        try await EtcdTest.withClient { etcd in
            let key = EtcdTest.prefix() + "big"
            let error = await #expect(throws: EtcdError.self) {
                try await etcd.put(key, value: [UInt8](repeating: 7, count: 2 << 20))
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("maxRequestSize") == true)
            let stored = try await etcd.get(key)
            #expect(stored == nil)
        }
    }

    @Test("a response over Configuration.maxResponseSize fails that call only, with .resourceExhausted")
    func responseTooLarge() async throws {
        var configuration = try EtcdTest.configuration()
        configuration.maxResponseSize = 4096
        let etcd = try await EtcdClient.connect(configuration)
        let p = EtcdTest.prefix()
        try await etcd.put(p + "big", value: [UInt8](repeating: 1, count: 64 * 1024))
        try await etcd.put(p + "small", value: [2])
        let error = await #expect(throws: EtcdError.self) { _ = try await etcd.get(p + "big") }
        #expect(error?.code == .resourceExhausted)
        #expect(error?.message.contains("maxResponseSize") == true)
        // The connection is still fine for the next call.
        #expect(try await etcd.get(p + "small")?.value == [2])
        var keysOnly = EtcdRangeRequest(key: p + "big")
        keysOnly.keysOnly = true
        #expect(try await etcd.range(keysOnly).kvs.first?.keyString == p + "big")
        await etcd.close()
    }

    @Test("after close, calls fail with .closed")
    func closed() async throws {
        let etcd = try await EtcdClient.connect(try EtcdTest.configuration())
        await etcd.close()
        let error = await #expect(throws: EtcdError.self) { _ = try await etcd.get(EtcdTest.prefix() + "x") }
        #expect(error?.code == .closed)
    }

    @Test("1,000 concurrent puts over one client all succeed and are all readable")
    func concurrentPuts() async throws {
        try await EtcdTest.withClient { etcd in
            let p = EtcdTest.prefix()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<1000 {
                    group.addTask { try await etcd.put(p + String(format: "%04d", i), value: Array("v\(i)".utf8)) }
                }
                try await group.waitForAll()
            }
            let all = try await etcd.range(prefix: p)
            #expect(all.kvs.count == 1000)
            for (i, kv) in all.kvs.enumerated() {
                #expect(kv.value == Array("v\(i)".utf8))
            }
        }
    }
}
