extension ConsulClient.Configuration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The configuration with the ACL token redacted, so logging a configuration never leaks it.
    public var description: String {
        "ConsulClient.Configuration(address: \(address), token: \(token == nil ? "nil" : "***"), "
            + "datacenter: \(datacenter ?? "nil"), namespace: \(namespace ?? "nil"), tls: \(tls == nil ? "nil" : "set"), "
            + "timeouts: \(timeouts), maximumConnections: \(maximumConnections))"
    }

    /// Same as ``description``: the token is redacted.
    public var debugDescription: String { description }

    /// A mirror without the token (for `dump` and debuggers).
    public var customMirror: Mirror {
        Mirror(self, children: [
            "address": address, "token": token == nil ? "nil" : "***", "datacenter": datacenter as Any,
            "namespace": namespace as Any, "defaultConsistency": defaultConsistency, "tls": tls as Any,
            "timeouts": timeouts, "maximumConnections": maximumConnections,
        ])
    }
}
