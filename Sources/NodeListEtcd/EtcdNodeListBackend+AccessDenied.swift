import Etcd

extension EtcdNodeListBackend {
    /// What to tell the user when `error` is etcd refusing (missing) credentials:
    /// `unauthenticated` or `permissionDenied`; nil for any other error.
    public static func accessDeniedAdvice(for error: any Error) -> String? {
        switch error {
        case let error as EtcdError where error.code == .unauthenticated:
            "authentication is required or the credentials were rejected (unauthenticated) — check the user and password "
                + "(etcd://USER:PASSWORD@host, or --user and --password-file)"
        case let error as EtcdError where error.code == .permissionDenied:
            "this user may not access the key (permissionDenied) — grant its role read/write on the key"
        default:
            nil
        }
    }

    /// See ``accessDeniedAdvice(for:)-swift.type.method``.
    public func accessDeniedAdvice(for error: any Error) -> String? { Self.accessDeniedAdvice(for: error) }

    /// A ``EtcdError`` as its one-line `summary` (see ``NodeListBackend/summary(of:)``); nil for other errors.
    public func summary(of error: any Error) -> String? { (error as? EtcdError)?.summary }
}
