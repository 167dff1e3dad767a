import CZooKeeper
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An async ZooKeeper client over the official C client (`libzookeeper_mt`).
///
/// ```swift
/// let zk = try await ZooKeeperClient.connect(.init(connectString: "127.0.0.1:2181"))
/// let path = try await zk.create("/app", data: Array("hello".utf8))
/// let (data, stat) = try await zk.get(path)
/// _ = try await zk.set(path, data: Array("bye".utf8), version: stat.version)
/// await zk.close()
/// ```
///
/// Every call has a deadline (``Configuration/operationTimeout``) and throws ``ZooKeeperError``.
/// The session survives disconnections shorter than the session timeout (the C client
/// reconnects by itself, to any server of the connect string); after session *expiry* the
/// client opens a new session unless ``Configuration/reopenExpiredSession`` is false — see
/// ``sessionEvents``. Closing is ``close()``; a client dropped without it is closed in the
/// background. The client's background work (deadlines, re-arming watches, re-opening an
/// expired session) lives from `connect` to `close()`, which ends it.
public final class ZooKeeperClient: Sendable {
    let connection: ZooKeeperConnection

    private init(connection: ZooKeeperConnection) {
        self.connection = connection
    }

    deinit {
        connection.closeDetached()
    }

    /// The largest data this client sends in one node (``Configuration/maximumDataSize``).
    public var maximumDataSize: Int { connection.configuration.maximumDataSize }

    /// Connects and waits until the first session is established.
    /// - Parameter configuration: where and how to connect.
    /// - Returns: a connected client.
    /// - Throws: ``ZooKeeperError`` `.badArguments` for a malformed connect string,
    ///   `.connectionLoss` when no server answers within ``Configuration/connectTimeout``,
    ///   `.sessionExpired` when ``Configuration/session`` can no longer be resumed,
    ///   `.authFailed` when the server rejects ``Configuration/authentication``,
    ///   `.cancelled` when the calling task is cancelled before the session is established.
    public static func connect(_ configuration: Configuration) async throws -> ZooKeeperClient {
        ZooKeeperClient(connection: try await ZooKeeperConnection.connect(configuration))
    }

    /// Creates a node.
    /// - Parameters:
    ///   - path: an absolute path; its parent must exist. For sequential modes it may end in `/`
    ///     (the name is then only the sequence number).
    ///   - data: the node's data, at most ``Configuration/maximumDataSize`` bytes.
    ///   - mode: persistent (default), ephemeral, sequential, container or TTL.
    ///   - acl: who may do what with the node (default ``ZooKeeperACL/openUnsafe``).
    /// - Returns: the created path (with its sequence suffix, relative to the chroot).
    /// - Throws: ``ZooKeeperError``: `.nodeExists`, `.noNode` (no parent), `.noAuth`,
    ///   `.invalidACL`, `.noChildrenForEphemerals`, `.badArguments`, `.connectionLoss`, …
    @discardableResult
    public func create(_ path: String, data: [UInt8] = [], mode: ZooKeeperCreateMode = .persistent,
                       acl: ZooKeeperACL = .openUnsafe) async throws -> String {
        try await connection.create(path, data: data, mode: mode, acl: acl).0
    }

    /// Creates a node and returns its stat too. Parameters and errors as
    /// ``create(_:data:mode:acl:)``.
    /// - Returns: the created path and the new node's stat.
    public func createWithStat(_ path: String, data: [UInt8] = [], mode: ZooKeeperCreateMode = .persistent,
                               acl: ZooKeeperACL = .openUnsafe) async throws -> (path: String, stat: ZooKeeperStat) {
        let (created, stat) = try await connection.create(path, data: data, mode: mode, acl: acl)
        return (created, stat)
    }

    /// Reads a node's data and stat.
    /// - Parameter path: the node.
    /// - Throws: ``ZooKeeperError`` `.noNode`, `.noAuth`, …
    public func get(_ path: String) async throws -> (data: [UInt8], stat: ZooKeeperStat) {
        let (data, stat) = try await connection.getData(path)
        return (data, stat)
    }

    /// Sets a node's data if its version matches: a compare-and-swap.
    /// - Parameters:
    ///   - path: the node.
    ///   - data: the new data.
    ///   - version: the expected ``ZooKeeperStat/version``; `-1` sets whatever the version.
    /// - Returns: the node's new stat.
    /// - Throws: ``ZooKeeperError`` `.badVersion` on a conflict (re-read and retry), `.noNode`, …
    @discardableResult
    public func set(_ path: String, data: [UInt8], version: Int32 = -1) async throws -> ZooKeeperStat {
        try await connection.set(path, data: data, version: version)
    }

    /// Deletes a node if its version matches.
    /// - Parameters:
    ///   - path: the node; it must have no children.
    ///   - version: the expected version; `-1` deletes whatever the version.
    /// - Throws: ``ZooKeeperError`` `.noNode`, `.badVersion`, `.notEmpty`, …
    public func delete(_ path: String, version: Int32 = -1) async throws {
        try await connection.delete(path, version: version)
    }

    /// The node's stat, or `nil` when it does not exist.
    /// - Parameter path: the node.
    /// - Throws: ``ZooKeeperError`` (not for a missing node).
    public func exists(_ path: String) async throws -> ZooKeeperStat? {
        try await connection.exists(path)
    }

    /// The names (not paths) of a node's children, in no particular order.
    /// - Parameter path: the node.
    /// - Throws: ``ZooKeeperError`` `.noNode`, `.noAuth`, …
    public func children(_ path: String) async throws -> [String] {
        try await connection.getChildren(path).0
    }

    /// The names of a node's children and the node's stat.
    /// - Parameter path: the node.
    /// - Throws: ``ZooKeeperError`` `.noNode`, `.noAuth`, …
    public func childrenWithStat(_ path: String) async throws -> (children: [String], stat: ZooKeeperStat) {
        let (children, stat) = try await connection.getChildren(path)
        return (children, stat)
    }

    /// Runs operations atomically: all are applied, or none.
    /// - Parameter operations: create/set/delete/check operations (TTL creates are not supported
    ///   inside a multi by the C client).
    /// - Returns: one result per operation, in order.
    /// - Throws: ``ZooKeeperError`` with the failing operation's code (e.g. `.badVersion` for a
    ///   failed `check`) and its ``ZooKeeperError/failedOperationIndex``.
    @discardableResult
    public func multi(_ operations: [ZooKeeperOperation]) async throws -> [ZooKeeperOperationResult] {
        try await connection.multi(operations)
    }

    /// Waits until the server this client is connected to has caught up with the leader for
    /// `path`, so a following read sees every write committed before the call.
    /// - Parameter path: the node (it need not exist).
    /// - Throws: ``ZooKeeperError``.
    public func sync(_ path: String) async throws {
        try await connection.sync(path)
    }

    /// A node's ACL and stat.
    /// - Parameter path: the node.
    /// - Throws: ``ZooKeeperError`` `.noNode`, …
    public func getACL(_ path: String) async throws -> (acl: [ZooKeeperACL.Entry], stat: ZooKeeperStat) {
        let (entries, stat) = try await connection.getACL(path)
        return (entries, stat)
    }

    /// Replaces a node's ACL if its ACL version matches.
    /// - Parameters:
    ///   - path: the node.
    ///   - acl: the new ACL.
    ///   - version: the expected ``ZooKeeperStat/aversion``; `-1` for any.
    /// - Throws: ``ZooKeeperError`` `.noNode`, `.badVersion`, `.noAuth`, `.invalidACL`, …
    public func setACL(_ path: String, acl: ZooKeeperACL, version: Int32 = -1) async throws {
        try await connection.setACL(path, acl: acl, version: version)
    }

    /// Adds credentials to the session (and to any session opened after expiry).
    /// - Parameters:
    ///   - scheme: e.g. `"digest"`.
    ///   - credentials: e.g. `"user:password"` for `digest`. Never logged.
    /// - Throws: ``ZooKeeperError`` `.authFailed`, …
    public func addAuth(scheme: String, credentials: String) async throws {
        try await connection.addAuth(scheme: scheme, credentials: Array(credentials.utf8))
    }

    /// Watches a node's data and existence: see ``ZooKeeperWatch``.
    /// - Parameter path: the node (it need not exist).
    public func watch(_ path: String) -> ZooKeeperWatch {
        ZooKeeperWatch(connection: connection, path: path, kind: .data)
    }

    /// Watches a node's list of children (and its existence): see ``ZooKeeperWatch``.
    /// - Parameter path: the node (it need not exist).
    public func watchChildren(_ path: String) -> ZooKeeperWatch {
        ZooKeeperWatch(connection: connection, path: path, kind: .children)
    }

    /// The session's state changes, starting with the current state; see
    /// ``ZooKeeperSessionEvents``.
    public var sessionEvents: ZooKeeperSessionEvents {
        ZooKeeperSessionEvents(connection: connection)
    }

    /// The current session state.
    public var sessionState: ZooKeeperSessionState { connection.sessionState }

    /// The current session's id and password (to resume it with ``Configuration/session``),
    /// or `nil` when closed or not yet established.
    public var session: ZooKeeperSession? {
        connection.withHandle { zh -> ZooKeeperSession? in
            guard let clientID = zoo_client_id(zh)?.pointee, clientID.client_id != 0 else { return nil }
            let password = withUnsafeBytes(of: clientID.passwd) { Array($0) }
            return ZooKeeperSession(id: clientID.client_id, password: password)
        } ?? nil
    }

    /// The `host:port` of the server the client is connected to, or `nil` when not connected.
    public var connectedServer: String? { connection.connectedServer }

    /// Closes the session: its ephemeral nodes are deleted by the server, calls in flight end
    /// with `.closed`, watches and ``sessionEvents`` finish. Calling it again does nothing.
    ///
    /// The C handle is closed once the server has answered the calls already sent on it (the
    /// 3.8 C client would otherwise lose them, ZOOKEEPER-2894): that takes milliseconds on a live
    /// connection, and `close()` waits for it up to 1 s. If the server does not answer, `close()`
    /// returns then and the handle is closed in the background when the answers come or the C
    /// client gives up on the connection (two thirds of the session timeout).
    public func close() async {
        await connection.close()
    }
}
