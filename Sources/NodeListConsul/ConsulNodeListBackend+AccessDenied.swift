import Consul

extension ConsulNodeListBackend {
    /// What to tell the user when `error` is Consul refusing the (missing) ACL token (403);
    /// nil for any other error.
    public static func accessDeniedAdvice(for error: any Error) -> String? {
        guard let error = error as? ConsulError, error.code == .permissionDenied else { return nil }
        return "access denied (403) — pass an ACL token with key read/write on the key "
            + "(--token-file, CONSUL_HTTP_TOKEN or consul://TOKEN@host)"
    }

    /// See ``accessDeniedAdvice(for:)-swift.type.method``.
    public func accessDeniedAdvice(for error: any Error) -> String? { Self.accessDeniedAdvice(for: error) }

    /// A `ConsulError` as its one-line `summary` (see `NodeListBackend/summary(of:)`); nil for other errors.
    public func summary(of error: any Error) -> String? { (error as? ConsulError)?.summary }
}
