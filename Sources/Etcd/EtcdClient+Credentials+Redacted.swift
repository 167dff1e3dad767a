extension EtcdClient.Configuration.Credentials: CustomDebugStringConvertible, CustomReflectable {
    /// Same as ``description``: the password is redacted.
    public var debugDescription: String { description }

    /// A mirror without the password (for `dump` and debuggers).
    public var customMirror: Mirror { Mirror(self, children: ["username": username, "password": "***"]) }
}
