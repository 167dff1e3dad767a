import Consul
import ConsulStandIn
import Foundation
import NIOCore
import NIOPosix
import Testing

@Suite("Consul KV (real Consul at CONSUL_HTTP_ADDR, else the stand-in)")
struct ConsulKVTests {
    @Test func putGetRoundTripWithIndexesAndFlags() async throws {
        try await withConsul { consul in
            let key = consul.key("round-trip")
            #expect(try await consul.client.kv.get(key) == nil)
            #expect(try await consul.client.kv.put(key, value: bytes("hello"), flags: 42))
            let entry = try #require(try await consul.client.kv.get(key, consistency: .consistent))
            #expect(entry.key == key)
            #expect(entry.value == bytes("hello"))
            #expect(entry.string == "hello")
            #expect(entry.flags == 42)
            #expect(entry.createIndex > 0)
            #expect(entry.modifyIndex == entry.createIndex)
            #expect(entry.lockIndex == 0)
            #expect(entry.session == nil)

            #expect(try await consul.client.kv.put(key, value: bytes("again")))
            let updated = try #require(try await consul.client.kv.get(key))
            #expect(updated.value == bytes("again"))
            #expect(updated.createIndex == entry.createIndex)
            #expect(updated.modifyIndex > entry.modifyIndex)
            #expect(try await consul.client.kv.getRaw(key) == bytes("again"))

            #expect(try await consul.client.kv.delete(key))
            #expect(try await consul.client.kv.get(key) == nil)
            #expect(try await consul.client.kv.getRaw(key) == nil)
        }
    }

    @Test func binaryAndEmptyValuesRoundTrip() async throws {
        try await withConsul { consul in
            let binary: [UInt8] = (0...255).map { UInt8($0) }
            try await consul.client.kv.put(consul.key("binary"), value: binary)
            #expect(try await consul.client.kv.get(consul.key("binary"))?.value == binary)
            try await consul.client.kv.put(consul.key("empty"), value: [])
            let empty = try #require(try await consul.client.kv.get(consul.key("empty")))
            #expect(empty.value == [])
        }
    }

    @Test func leadingSlashIsTheSameKey() async throws {
        try await withConsul { consul in
            try await consul.client.kv.put("/" + consul.key("slash"), value: bytes("v"))
            let entry = try #require(try await consul.client.kv.get(consul.key("slash")))
            #expect(entry.key == consul.key("slash"))
            #expect(try await consul.client.kv.get("/" + consul.key("slash"))?.value == bytes("v"))
        }
    }

    @Test func casZeroCreatesOnlyIfAbsent() async throws {
        try await withConsul { (consul: ConsulTarget) async throws in
            let key = consul.key("cas0")
            #expect(try await consul.client.kv.put(key, value: bytes("first"), cas: 0))
            #expect(try await consul.client.kv.put(key, value: bytes("second"), cas: 0) == false)
            #expect(try await consul.client.kv.get(key)?.value == bytes("first"))
        }
    }

    @Test func casConflictOnStaleModifyIndex() async throws {
        try await withConsul { consul in
            let key = consul.key("cas")
            try await consul.client.kv.put(key, value: bytes("v1"))
            let v1 = try #require(try await consul.client.kv.get(key, consistency: .consistent))
            #expect(try await consul.client.kv.put(key, value: bytes("v2"), cas: v1.modifyIndex))
            // A second writer still holding v1's index loses.
            #expect(try await consul.client.kv.put(key, value: bytes("v2-other"), cas: v1.modifyIndex) == false)
            let v2 = try #require(try await consul.client.kv.get(key))
            #expect(v2.value == bytes("v2"))
            // Delete with a stale index is refused, with the current one applied.
            #expect(try await consul.client.kv.delete(key, cas: v1.modifyIndex) == false)
            #expect(try await consul.client.kv.get(key) != nil)
            #expect(try await consul.client.kv.delete(key, cas: v2.modifyIndex))
            #expect(try await consul.client.kv.get(key) == nil)
        }
    }

    @Test func concurrentCreateIfAbsentHasOneWinner() async throws {
        try await withConsul { consul in
            let key = consul.key("race")
            let client = consul.client
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<8 { group.addTask { try await client.kv.put(key, value: bytes("n\(i)"), cas: 0) } }
                var wins = 0
                for try await won in group where won { wins += 1 }
                return wins
            }
            #expect(wins == 1)
        }
    }

    @Test func concurrentCASIncrementsLoseNoUpdate() async throws {
        try await withConsul { consul in
            let key = consul.key("counter")
            let client = consul.client
            #expect(try await client.kv.put(key, value: bytes("0"), cas: 0))
            let writers = 6
            let incrementsEach = 5
            let conflicts = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<writers {
                    group.addTask {
                        var conflicts = 0
                        for _ in 0..<incrementsEach {
                            while true {
                                let entry = try #require(try await client.kv.get(key, consistency: .consistent))
                                let next = Int(entry.string ?? "") ?? -1_000_000
                                if try await client.kv.put(key, value: bytes(String(next + 1)), cas: entry.modifyIndex) {
                                    break
                                }
                                conflicts += 1
                            }
                        }
                        return conflicts
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(try await client.kv.get(key)?.string == String(writers * incrementsEach))
            // Not asserted (timing-dependent), but shows the CAS path was exercised.
            print("concurrent CAS increments: \(conflicts) conflicts retried")
        }
    }

    @Test func listKeysAndRecursiveDelete() async throws {
        try await withConsul { consul in
            for name in ["dir/a", "dir/b", "dir/sub/c", "other"] {
                try await consul.client.kv.put(consul.key(name), value: bytes(name))
            }
            let listed = try await consul.client.kv.list(consul.key("dir/"))
            #expect(listed.map(\.key) == ["dir/a", "dir/b", "dir/sub/c"].map(consul.key))
            #expect(listed.map(\.value) == ["dir/a", "dir/b", "dir/sub/c"].map(bytes))
            #expect(try await consul.client.kv.keys(consul.key("dir/")) == ["dir/a", "dir/b", "dir/sub/c"].map(consul.key))
            #expect(
                try await consul.client.kv.keys(consul.key("dir/"), separator: "/")
                    == ["dir/a", "dir/b", "dir/sub/"].map(consul.key))
            #expect(try await consul.client.kv.list(consul.key("nothing-here/")) == [])
            #expect(try await consul.client.kv.keys(consul.key("nothing-here/")) == [])
            try await consul.client.kv.delete(prefix: consul.key("dir/"))
            #expect(try await consul.client.kv.list(consul.key("dir/")) == [])
            #expect(try await consul.client.kv.get(consul.key("other")) != nil)
        }
    }

    @Test func consistencyModesAndQueryMeta() async throws {
        try await withConsul { consul in
            let key = consul.key("consistency")
            try await consul.client.kv.put(key, value: bytes("c"))
            for mode in [ConsulConsistency.default, .consistent, .stale] {
                let result = try await consul.client.kv.getWithMeta(key, consistency: mode)
                #expect(result.value?.value == bytes("c"))
                #expect(result.index == result.value?.modifyIndex)
                #expect(result.meta.knownLeader == true)
                #expect(result.meta.lastContact != nil)
            }
        }
    }

    @Test func transactionCommitsAtomically() async throws {
        try await withConsul { consul in
            let a = consul.key("txn/a")
            let b = consul.key("txn/b")
            let result = try await consul.client.kv.txn([
                .cas(a, value: bytes("A"), index: 0), .set(b, value: bytes("B"), flags: 7), .get(b),
            ])
            #expect(result.results.count == 3)
            #expect(result.results[2].value == bytes("B"))
            #expect(result.results[2].flags == 7)
            let entryA = try #require(try await consul.client.kv.get(a))
            #expect(entryA.value == bytes("A"))
            #expect(result.results[0].modifyIndex == entryA.modifyIndex)
        }
    }

    @Test func transactionRollsBackWithPerOperationErrors() async throws {
        try await withConsul { consul in
            let a = consul.key("txn/a")
            let b = consul.key("txn/b")
            try await consul.client.kv.put(a, value: bytes("A"))
            let entry = try #require(try await consul.client.kv.get(a))
            let error = await expectConsulError(.conflict) {
                try await consul.client.kv.txn([
                    .set(b, value: bytes("must not be written")),
                    .checkIndex(a, index: entry.modifyIndex + 1000),
                ])
            }
            #expect(error?.httpStatus == 409)
            #expect(error?.transactionErrors.map(\.opIndex) == [1])
            #expect(error?.transactionErrors.first?.what.isEmpty == false)
            #expect(try await consul.client.kv.get(b) == nil)
            await expectConsulError(.conflict) {
                try await consul.client.kv.txn([.checkNotExists(a)])
            }
        }
    }
}

@Suite("Consul client input validation and transport errors")
struct ConsulValidationTests {
    @Test func emptyKeyRejectedBeforeSending() async throws {
        // No server at all: the error must come from validation, not from the network.
        let client = ConsulClient(.init(address: "http://127.0.0.1:1"))
        await expectConsulError(.invalidArgument) { try await client.kv.get("") }
        await expectConsulError(.invalidArgument) { try await client.kv.put("/", value: bytes("x")) }
        await expectConsulError(.invalidArgument) { try await client.kv.delete("//") }
        await expectConsulError(.invalidArgument) { try await client.kv.delete(prefix: "/") }
        try await client.shutdown()
    }

    @Test func oversizeValueRejectedBeforeSending() async throws {
        let client = ConsulClient(.init(address: "http://127.0.0.1:1"))
        let tooBig = [UInt8](repeating: 0x61, count: ConsulKV.maximumValueSize + 1)
        let error = await expectConsulError(.valueTooLarge) { try await client.kv.put("k", value: tooBig) }
        #expect(error?.message.contains("512 KiB") == true)
        await expectConsulError(.valueTooLarge) { try await client.kv.txn([.set("k", value: tooBig)]) }
        try await client.shutdown()
    }

    @Test func valueAtTheLimitIsAccepted() async throws {
        try await withConsul { (consul: ConsulTarget) async throws in
            let atLimit = [UInt8](repeating: 0x62, count: ConsulKV.maximumValueSize)
            #expect(try await consul.client.kv.put(consul.key("big"), value: atLimit))
            #expect(try await consul.client.kv.get(consul.key("big"))?.value.count == ConsulKV.maximumValueSize)
        }
    }

    @Test(arguments: ["", "ftp://127.0.0.1:8500", "http://", "http://127.0.0.1:99999", "http://host:port",
                      "http://127.0.0.1:8500/v1/kv", "a:b:c", "http://bad host:8500"])
    func malformedAddressIsAClearError(address: String) async throws {
        let client = ConsulClient(.init(address: address))
        let error = await expectConsulError(.invalidArgument) { try await client.kv.get("k") }
        #expect(error?.message.contains("malformed Consul address") == true)
        try await client.shutdown()
    }

    @Test func storeURLSchemesAndBareHostPortAreAccepted() async throws {
        let standIn = try await ConsulStandIn.start()
        let hostPort = standIn.address.replacingOccurrences(of: "http://", with: "")
        for address in [standIn.address, "consul://\(hostPort)", hostPort, standIn.address + "/"] {
            let client = ConsulClient(.init(address: address))
            #expect(try await client.kv.put("scheme", value: bytes(address)), "\(address)")
            try await client.shutdown()
        }
        // consuls:// means https: against this plain-HTTP server the TLS handshake fails.
        var configuration = ConsulClient.Configuration(address: "consuls://\(hostPort)")
        configuration.timeouts.request = .seconds(3)
        configuration.timeouts.connect = .seconds(2)
        let tlsClient = ConsulClient(configuration)
        do {
            _ = try await tlsClient.kv.get("scheme")
            Issue.record("https to a plain HTTP server succeeded")
        } catch let error as ConsulError {
            #expect(error.code == .tls, "\(error)")
            #expect(error.message.contains("serving HTTPS"))
        }
        try await tlsClient.shutdown()
        try await standIn.shutdown()
    }

    @Test func unreachableAddressFailsPromptly() async throws {
        // A port nothing listens on: bind one, close it, use it.
        let standIn = try await ConsulStandIn.start()
        let address = standIn.address
        try await standIn.shutdown()
        var configuration = ConsulClient.Configuration(address: address)
        configuration.timeouts.connect = .seconds(2)
        let client = ConsulClient(configuration)
        let started = ContinuousClock.now
        let error = await expectConsulError(.unreachable) { try await client.kv.get("k") }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(error?.message.contains("cannot reach Consul") == true)
        try await client.shutdown()
    }

    @Test func silentServerEndsWithTimeout() async throws {
        // A loopback listener that accepts connections and never answers.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        var configuration = ConsulClient.Configuration(address: "http://127.0.0.1:\(silent.localAddress!.port!)")
        configuration.timeouts.request = .milliseconds(500)
        let client = ConsulClient(configuration)
        let started = ContinuousClock.now
        let error = await expectConsulError(.timeout) { try await client.kv.get("k") }
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(error?.message.contains("did not finish") == true)
        try await client.shutdown()
        try await silent.close()
    }

    @Test func callsAfterShutdownFail() async throws {
        let client = ConsulClient(.init(address: "http://127.0.0.1:1"))
        try await client.shutdown()
        try await client.shutdown()
        await expectConsulError(.shutdown) { try await client.kv.get("k") }
    }
}
