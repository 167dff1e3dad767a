@testable import Consul
import ConsulStandIn
import Foundation
import Testing

@Suite("Consul errors from the server")
struct ConsulErrorTests {
    @Test func serverSide413IsValueTooLarge() async throws {
        // A server with a lower kv_max_value_size than the client's 512 KiB check.
        var options = ConsulStandIn.Options()
        options.maximumValueSize = 16
        let standIn = try await ConsulStandIn.start(options: options)
        let client = ConsulClient(.init(address: standIn.address))
        let error = await expectConsulError(.valueTooLarge) {
            try await client.kv.put("big", value: [UInt8](repeating: 1, count: 17))
        }
        #expect(error?.httpStatus == 413)
        #expect(error?.consulMessage?.contains("too large") == true)
        #expect(error?.path == "/v1/kv/big")
        #expect(try await client.kv.put("small", value: [UInt8](repeating: 1, count: 16)))
        try await client.shutdown()
        try await standIn.shutdown()
    }

    @Test func noClusterLeaderIsItsOwnCodeAndStaleReadsStillWork() async throws {
        let standIn = try await ConsulStandIn.start()
        let client = ConsulClient(.init(address: standIn.address))
        try await client.kv.put("k", value: bytes("v"))
        standIn.simulateNoLeader(true)
        let error = await expectConsulError(.noLeader) { try await client.kv.get("k") }
        #expect(error?.httpStatus == 500)
        #expect(error?.message.contains("no cluster leader") == true)
        await expectConsulError(.noLeader) { try await client.kv.put("k", value: bytes("w")) }

        let stale = try await client.kv.getWithMeta("k", consistency: .stale)
        #expect(stale.value?.value == bytes("v"))
        #expect(stale.meta.knownLeader == false)
        #expect(stale.meta.lastContact == .seconds(5))

        standIn.simulateNoLeader(false)
        let fresh = try await client.kv.getWithMeta("k", consistency: .stale)
        #expect(fresh.meta.knownLeader == true)
        #expect(fresh.meta.lastContact == .zero)
        try await client.shutdown()
        try await standIn.shutdown()
    }

    @Test func aWatchRidesOutALeaderElection() async throws {
        let standIn = try await ConsulStandIn.start()
        let client = ConsulClient(.init(address: standIn.address))
        try await client.kv.put("w", value: bytes("before"))
        var iterator = client.kv.watch("w", wait: .milliseconds(500)).makeAsyncIterator()
        #expect(try await iterator.next()??.value == bytes("before"))
        standIn.simulateNoLeader(true)
        try await Task.sleep(for: .seconds(1))  // the watch's queries fail meanwhile, and are retried
        standIn.simulateNoLeader(false)
        try await client.kv.put("w", value: bytes("after"))
        #expect(try await iterator.next()??.value == bytes("after"))
        try await client.shutdown()
        try await standIn.shutdown()
    }

    @Test func keysWithCharactersThatNeedEscapingRoundTrip() async throws {
        try await withConsul { consul in
            for name in ["with space", "q?uery", "hash#tag", "per%25cent", "plus+sign", "semi;colon", "ünï/cødé", "a=b&c"] {
                let key = consul.key(name)
                #expect(try await consul.client.kv.put(key, value: bytes(name)), "\(name)")
                let entry = try await consul.client.kv.get(key)
                #expect(entry?.key == key, "\(name)")
                #expect(entry?.value == bytes(name), "\(name)")
            }
            let keys = try await consul.client.kv.keys(consul.key(""))
            #expect(keys.count == 8)
        }
    }

    @Test(arguments: [
        (400, "bad", ConsulError.Code.invalidArgument), (403, "Permission denied", .permissionDenied),
        (404, "", .notFound), (409, "", .conflict), (413, "too large", .valueTooLarge),
        (500, "No cluster leader", .noLeader), (500, "rpc error: invalid session \"x\"", .sessionInvalidated),
        (500, "rpc error", .serverError), (503, "", .serverError), (302, "", .badResponse),
    ])
    func statusesMapToCodes(status: Int, body: String, code: ConsulError.Code) {
        let error = ConsulError.fromResponse(status: status, body: body, method: "GET", path: "/v1/kv/x")
        #expect(error.code == code)
        #expect(error.httpStatus == status)
        #expect(error.path == "/v1/kv/x")
        #expect(error.message.contains("GET /v1/kv/x"))
    }
}
