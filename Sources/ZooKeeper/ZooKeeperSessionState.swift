/// The state of a ``ZooKeeperClient``'s session, as delivered by ``ZooKeeperClient/sessionEvents``.
public enum ZooKeeperSessionState: Hashable, Sendable, CustomStringConvertible {
    /// Not connected to a server; the client is (re)connecting. The session is still valid on
    /// the server for up to the session timeout, and calls fail with `.connectionLoss` meanwhile.
    case connecting
    /// Connected to a server with a valid session.
    case connected
    /// Connected to a read-only server (a server cut off from its quorum): reads and watches
    /// succeed, writes fail with `.notReadOnly`. Only with
    /// ``ZooKeeperClient/Configuration/allowReadOnly``. The client keeps probing the other
    /// servers and, once one serves writes again, moves to it as a **new session**
    /// (`connecting`, then `connected`; ``ZooKeeperClient/session`` changes).
    case connectedReadOnly
    /// The server rejected the credentials; the session is unusable.
    case authFailed
    /// The server expired the session: **every ephemeral node it created is gone and every
    /// server-side watch with it**. Unless ``ZooKeeperClient/Configuration/reopenExpiredSession``
    /// is false, the client opens a new session next (`connecting`, then `connected`) and re-arms
    /// every live ``ZooKeeperWatch``; re-create your ephemeral nodes after that `connected`.
    case expired
    /// The client was closed; no more events follow.
    case closed

    public var description: String {
        switch self {
        case .connecting: "connecting"
        case .connected: "connected"
        case .connectedReadOnly: "connected (read-only)"
        case .authFailed: "authentication failed"
        case .expired: "expired (ephemeral nodes of the session are gone; a new session follows unless disabled)"
        case .closed: "closed"
        }
    }
}
