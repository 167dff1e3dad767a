import Consul
import ConsulStandIn
import Testing

/// The README's Consul example, run against the stand-in (or CONSUL_HTTP_ADDR), so it stays true.
@Suite("Consul README example")
struct ConsulReadmeExampleTests {
    @Test func theReadmeExampleWorks() async throws {
        try await withConsul { target in
            let consul = target.client
            let key = target.key("app/config")
            _ = try await consul.kv.put("/" + key, value: Array("v1".utf8), cas: 0)
            var won = false
            if let entry = try await consul.kv.get(key, consistency: .consistent) {
                won = try await consul.kv.put(key, value: Array("v2".utf8), cas: entry.modifyIndex)
                #expect(entry.string == "v1")
            }
            #expect(won)

            let current = try await consul.kv.getWithMeta(key)
            let writer = Task {
                try await Task.sleep(for: .milliseconds(200))
                try await consul.kv.put(key, value: Array("v3".utf8))
            }
            let changed = try await consul.kv.get(key, waitIndex: current.index, wait: .seconds(30))
            #expect(changed.value?.string == "v3")
            #expect(changed.index > current.index)
            _ = try await writer.value

            let seen = TestBox<[String]>([])
            let watcher = Task {
                for try await entry in consul.kv.watch(key) { seen.withLock { $0.append(entry?.string ?? "<deleted>") } }
            }
            try await waitUntil { seen.withLock { $0 } == ["v3"] }
            try await consul.kv.delete(key)
            try await waitUntil { seen.withLock { $0 } == ["v3", "<deleted>"] }
            watcher.cancel()
            try await watcher.value
        }
    }
}
