extension ZooKeeperClient.Configuration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The configuration with credentials redacted (only the schemes are shown), so logging a
    /// configuration never leaks a password.
    public var description: String {
        "ZooKeeperClient.Configuration(connectString: \(connectString), sessionTimeout: \(sessionTimeout), "
            + "connectTimeout: \(connectTimeout), operationTimeout: \(operationTimeout), "
            + "authentication: [\(authentication.map { "\($0.scheme):***" }.joined(separator: ", "))], "
            + "session: \(session.map { "\($0)" } ?? "nil"), reopenExpiredSession: \(reopenExpiredSession), "
            + "allowReadOnly: \(allowReadOnly), maximumDataSize: \(maximumDataSize), hostResolutionInterval: \(hostResolutionInterval))"
    }

    /// Same as ``description``: credentials are redacted.
    public var debugDescription: String { description }

    /// A mirror without credentials or the session password (for `dump` and debuggers).
    public var customMirror: Mirror {
        Mirror(self, children: [
            "connectString": connectString, "sessionTimeout": sessionTimeout, "connectTimeout": connectTimeout,
            "operationTimeout": operationTimeout, "authentication": authentication.map { "\($0.scheme):***" },
            "session": session.map { "\($0)" } as Any, "reopenExpiredSession": reopenExpiredSession,
            "allowReadOnly": allowReadOnly, "maximumDataSize": maximumDataSize, "hostResolutionInterval": hostResolutionInterval,
        ])
    }
}

extension ZooKeeperSession: CustomReflectable {
    /// A mirror without the session password.
    public var customMirror: Mirror { Mirror(self, children: ["id": id, "password": "***"]) }
}
