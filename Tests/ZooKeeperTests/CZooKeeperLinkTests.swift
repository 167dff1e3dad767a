import CZooKeeper
import Foundation
import StoreTestSupport
import Testing

/// The C module links and works: a create/get round trip through libzookeeper_mt's
/// synchronous API against the real ZooKeeper started by scripts/start-stores.sh.
@Suite("CZooKeeper links against libzookeeper_mt")
struct CZooKeeperLinkTests {
    @Test("the C client's version constants are visible")
    func versionIsVisible() {
        #expect(ZOO_VERSION.hasPrefix("3."))
        #expect(czk_perm_all() == czk_perm_read() | czk_perm_write() | czk_perm_create() | czk_perm_delete() | czk_perm_admin())
    }

    @Test("create and get a znode through the C client", .enabled(if: TestStores.shouldRun(TestStores.zooKeeperConnect)))
    func createAndGet() throws {
        let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
        zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR)
        let connected = DispatchSemaphore(value: 0)
        let context = Unmanaged.passRetained(connected)
        let handle = zookeeper_init(
            connect,
            { _, type, state, _, context in
                if type == czk_session_event(), state == czk_connected_state(), let context {
                    Unmanaged<DispatchSemaphore>.fromOpaque(context).takeUnretainedValue().signal()
                }
            },
            10_000, nil, context.toOpaque(), 0
        )
        defer {
            if let handle { zookeeper_close(handle) }
            context.release()
        }
        let zh = try #require(handle)
        #expect(connected.wait(timeout: .now() + 15) == .success, "no session with ZooKeeper at \(connect) within 15 s")

        let path = "/autocluster-link-test-\(UUID().uuidString)"
        let payload: [UInt8] = Array("hello from Swift".utf8)
        var created = [CChar](repeating: 0, count: 512)
        let rc = payload.withUnsafeBufferPointer { data in
            data.withMemoryRebound(to: CChar.self) { chars in
                zoo_create(zh, path, chars.baseAddress, Int32(chars.count), czk_open_acl_unsafe(),
                           czk_ephemeral(), &created, Int32(created.count))
            }
        }
        #expect(rc == ZOK.rawValue, "zoo_create returned \(rc)")
        #expect(String(decoding: created.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) == path)

        var buffer = [CChar](repeating: 0, count: 1024)
        var length = Int32(buffer.count)
        var stat = Stat()
        let getRC = zoo_get(zh, path, 0, &buffer, &length, &stat)
        #expect(getRC == ZOK.rawValue)
        #expect(Array(buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }) == payload)
        #expect(stat.version == 0)
        #expect(stat.ephemeralOwner == zoo_client_id(zh).pointee.client_id)

        #expect(zoo_exists(zh, "/autocluster-link-test-missing-\(UUID().uuidString)", 0, nil) == ZNONODE.rawValue)
    }
}
