import Foundation
import Testing
import ZooKeeper

/// ACLs, addAuth and digest identities against the real ZooKeeper.
@Suite("ZooKeeper ACLs and authentication", .timeLimit(.minutes(2)))
struct ZooKeeperACLTests {
    @Test("digest ids are computed as ZooKeeper's DigestAuthenticationProvider does")
    func digestID() {
        // The value ZooKeeper's documentation gives for "super:admin".
        #expect(ZooKeeperACL.Entry.digest(user: "super", password: "admin").id == "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=")
        #expect(ZooKeeperACL.Entry.digest(user: "u", password: "p", permissions: .read).permissions == .read)
    }

    @Test("presets expand to the entries the server stores", .enabled(if: ZK.enabled))
    func presets() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        try await zk.create(root + "/open")
        let (openACL, openStat) = try await zk.getACL(root + "/open")
        #expect(openACL == ZooKeeperACL.openUnsafe.resolvedEntries)
        #expect(openStat.aversion == 0)
        try await zk.create(root + "/read", acl: .readUnsafe)
        #expect(try await zk.getACL(root + "/read").acl == [.anyone(.read)])
        #expect(await ZK.error { try await zk.set(root + "/read", data: .utf8("x")) }?.code == .noAuth)
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("creatorAll: only the creator's identity may read; others get .noAuth until they addAuth", .enabled(if: ZK.enabled))
    func creatorAll() async throws {
        let owner = try await ZK.client()
        let root = try await ZK.root(owner)
        let path = root + "/mine"
        let user = "owner-\(UUID().uuidString.prefix(6))"

        let invalid = await ZK.error { try await owner.create(path, acl: .creatorAll) }
        #expect(invalid?.code == .invalidACL, "creatorAll needs an authenticated identity")

        try await owner.addAuth(scheme: "digest", credentials: "\(user):secret")
        try await owner.create(path, data: .utf8("private"), acl: .creatorAll)
        let (acl, _) = try await owner.getACL(path)
        #expect(acl == [.digest(user: user, password: "secret")], "the server stores user:base64(sha1)")
        #expect(try await owner.get(path).data == .utf8("private"))

        let stranger = try await ZK.client()
        let denied = await ZK.error { _ = try await stranger.get(path) }
        #expect(denied?.code == .noAuth)
        #expect(denied?.message.contains("addAuth") == true)
        #expect(denied?.message.contains("secret") == false, "credentials never appear in errors")

        try await stranger.addAuth(scheme: "digest", credentials: "\(user):wrong")
        #expect(await ZK.error { _ = try await stranger.get(path) }?.code == .noAuth)
        try await stranger.addAuth(scheme: "digest", credentials: "\(user):secret")
        #expect(try await stranger.get(path).data == .utf8("private"))

        // Credentials in the configuration are applied on connect.
        let configured = try await ZK.client { $0.authentication = [(scheme: "digest", credentials: "\(user):secret")] }
        #expect(try await configured.get(path).data == .utf8("private"))

        try await owner.delete(path)
        await ZK.deleteTree(owner, root)
        for client in [owner, stranger, configured] { await client.close() }
    }

    @Test("setACL with explicit entries and an ACL version", .enabled(if: ZK.enabled))
    func setACL() async throws {
        let zk = try await ZK.client()
        let root = try await ZK.root(zk)
        let path = root + "/n"
        try await zk.create(path, data: .utf8("d"))
        #expect(await ZK.error { try await zk.setACL(path, acl: .readUnsafe, version: 3) }?.code == .badVersion)
        let entries: [ZooKeeperACL.Entry] = [.anyone(.read), .digest(user: "admin", password: "pw")]
        try await zk.setACL(path, acl: .entries(entries), version: 0)
        let (redacted, stat) = try await zk.getACL(path)
        #expect(stat.aversion == 1)
        // Without the admin permission, the server hides digest hashes (ZOOKEEPER-1392).
        #expect(redacted == [.anyone(.read), .init(permissions: .all, scheme: "digest", id: "admin:x")])
        // Read is open, write and admin need the digest identity.
        #expect(try await zk.get(path).data == .utf8("d"))
        #expect(await ZK.error { try await zk.set(path, data: []) }?.code == .noAuth)
        #expect(await ZK.error { try await zk.setACL(path, acl: .openUnsafe) }?.code == .noAuth)
        try await zk.addAuth(scheme: "digest", credentials: "admin:pw")
        #expect(try await zk.getACL(path).acl == entries)
        try await zk.set(path, data: .utf8("e"))
        #expect(await ZK.error { try await zk.setACL(path, acl: .openUnsafe, version: 0) }?.code == .badVersion)
        try await zk.setACL(path, acl: .openUnsafe, version: 1)
        #expect(try await zk.getACL(path).acl == ZooKeeperACL.openUnsafe.resolvedEntries)

        let empty = await ZK.error { try await zk.setACL(path, acl: .entries([])) }
        #expect(empty?.code == .invalidACL)
        let badScheme = await ZK.error { try await zk.create(root + "/bad", acl: .entries([.init(permissions: .all, scheme: "nonsense", id: "x")])) }
        #expect(badScheme?.code == .invalidACL)
        await ZK.deleteTree(zk, root)
        await zk.close()
    }

    @Test("addAuth with an unknown scheme fails with .authFailed", .enabled(if: ZK.enabled))
    func unknownScheme() async throws {
        let zk = try await ZK.client()
        let states = Recorder(zk.sessionEvents)
        let error = await ZK.error { try await zk.addAuth(scheme: "no-such-scheme", credentials: "x") }
        #expect(error?.code == .authFailed)
        #expect(await states.wait { $0.contains(.authFailed) }, "states: \(states.elements)")
        await zk.close()
        #expect(await states.waitFinished())
    }

    @Test("a bad addAuth scheme is rejected before it is sent", .enabled(if: ZK.enabled))
    func emptyScheme() async throws {
        let zk = try await ZK.client()
        #expect(await ZK.error { try await zk.addAuth(scheme: "", credentials: "x") }?.code == .badArguments)
        #expect(zk.sessionState == .connected)
        await zk.close()
    }
}
