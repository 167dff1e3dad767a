import ZooKeeper

extension ZooKeeperNodeListBackend {
    /// What to tell the user when `error` is ZooKeeper refusing (missing) credentials: `noAuth`
    /// or `authFailed`; nil for any other error.
    public static func accessDeniedAdvice(for error: any Error) -> String? {
        switch error {
        case let error as ZooKeeperError where error.code == .noAuth:
            "access denied (noAuth): the node list is guarded by an ACL — pass its digest credentials "
                + "(zookeeper://USER:PASSWORD@host/…, or --user and --password-file)"
        case let error as ZooKeeperError where error.code == .authFailed:
            "the credentials were rejected (authFailed) — check the user and password"
        default:
            nil
        }
    }

    /// See ``accessDeniedAdvice(for:)-swift.type.method``.
    public func accessDeniedAdvice(for error: any Error) -> String? { Self.accessDeniedAdvice(for: error) }

    /// A `ZooKeeperError` as its one-line `summary` (see `NodeListBackend.summary(of:)`); nil for other errors.
    public func summary(of error: any Error) -> String? { (error as? ZooKeeperError)?.summary }
}
