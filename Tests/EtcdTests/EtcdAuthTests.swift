@testable import Etcd
import Foundation
import Logging
import StoreTestSupport
import Testing

/// Authentication against an etcd the test starts itself (auth is enabled cluster-wide, so it
/// cannot be done on the shared server), with a 2-second token TTL to exercise token refresh.
@Suite("EtcdClient with etcd authentication", .serialized, .enabled(if: EtcdTest.enabled))
struct EtcdAuthTests {
    @Test("wrong password → clear error; right password works; an expired token is refreshed; no credentials → clear error")
    func authentication() async throws {
        let server = try await PrivateEtcd(count: 1, basePort: 29430, extraArguments: ["--auth-token-ttl", "2"])
        defer { server.stop() }
        let endpoint = server.endpoints[0]
        #expect(try etcdctl(["--endpoints", endpoint, "user", "add", "root", "--new-user-password", "root-secret"]).status == 0)
        #expect(try etcdctl(["--endpoints", endpoint, "auth", "enable"]).status == 0)

        var wrong = EtcdClient.Configuration(endpoints: [endpoint],
                                             credentials: .init(username: "root", password: "not-the-password"))
        wrong.timeouts.connect = .seconds(3)
        let refused = await #expect(throws: EtcdError.self) { _ = try await EtcdClient.connect(wrong) }
        #expect(refused?.code == .unauthenticated)
        #expect(refused?.message.contains("user name and password") == true)
        #expect(refused?.description.contains("not-the-password") == false)

        var right = EtcdClient.Configuration(endpoints: [endpoint],
                                             credentials: .init(username: "root", password: "root-secret"))
        let log = CapturingLogHandler.Store()
        right.logger = Logger(label: "test") { _ in CapturingLogHandler(store: log) }
        let etcd = try await EtcdClient.connect(right)
        let put = try await etcd.put("auth/k", value: "v".bytes)
        #expect(try await etcd.get("auth/k")?.value == "v".bytes)
        // etcd's token, sent as metadata: registered for the whole run's secret scan.
        let firstToken = try #require(etcd.currentAuthToken, "the client holds the token etcd issued")
        TestSecrets.register([firstToken], as: .etcdToken)
        let early = etcd.watch("auth/k", fromRevision: put.header.revision)
        var earlyEvents = early.makeAsyncIterator()
        #expect(try await earlyEvents.next()?.kv.value == "v".bytes)
        // The simple token lives 2 s; after it expires the client re-authenticates once and retries.
        try await Task.sleep(for: .seconds(4))
        #expect(try await etcd.get("auth/k")?.value == "v".bytes)
        #expect(log.all.contains { $0.contains("re-authenticating") })
        let refreshedToken = try #require(etcd.currentAuthToken)
        TestSecrets.register([refreshedToken], as: .etcdToken)
        #expect(refreshedToken != firstToken, "re-authenticating got a new token")
        #expect(!log.all.contains { $0.contains("root-secret") || $0.contains(firstToken) || $0.contains(refreshedToken) })
        // A watch created on the stream opened with the expired token: refused, re-authenticated, re-created.
        let late = etcd.watch("auth/k", fromRevision: put.header.revision + 1)
        try await etcd.put("auth/k", value: "w".bytes)
        #expect(try await etcd.get("auth/k")?.value == "w".bytes)
        let lateEvents: [EtcdWatchEvent]
        do { lateEvents = try await collect(late, count: 1) } catch { print("LOG", log.all.joined(separator: "\n")); throw error }
        #expect(lateEvents.first?.kv.value == "w".bytes)
        // The first watch was re-created from where it was: it sees "w" next, nothing repeated.
        #expect(try await earlyEvents.next()?.kv.value == "w".bytes)
        await etcd.close()

        let anonymous = try await EtcdClient.connect(.init(endpoints: [endpoint]))
        let denied = await #expect(throws: EtcdError.self) { _ = try await anonymous.get("auth/k") }
        #expect(denied?.code == .unauthenticated)
        #expect(denied?.message.contains("credentials") == true)
        await anonymous.close()
    }
}
