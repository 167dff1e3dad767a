import Consul
import Etcd
import ZooKeeper

extension NodeListError {
    /// A store's refusal of (missing) credentials, as a `.accessDenied` that says what to pass.
    static func accessDenied(_ error: any Error, _ what: String, store: String) -> NodeListError? {
        let advice: String
        switch error {
        case let error as ZooKeeperError where error.code == .noAuth:
            advice = "access denied (noAuth): the node list is guarded by an ACL — pass its digest credentials "
                + "(zookeeper://USER:PASSWORD@host/…, or --user and --password-file)"
        case let error as ZooKeeperError where error.code == .authFailed:
            advice = "the credentials were rejected (authFailed) — check the user and password"
        case let error as EtcdError where error.code == .unauthenticated:
            advice = "authentication is required or the credentials were rejected (unauthenticated) — check the user and password "
                + "(etcd://USER:PASSWORD@host, or --user and --password-file)"
        case let error as EtcdError where error.code == .permissionDenied:
            advice = "this user may not access the key (permissionDenied) — grant its role read/write on the key"
        case let error as ConsulError where error.code == .permissionDenied:
            advice = "access denied (403) — pass an ACL token with key read/write on the key "
                + "(--token-file, CONSUL_HTTP_TOKEN or consul://TOKEN@host)"
        default:
            return nil
        }
        return NodeListError(code: .accessDenied, message: "\(what) — \(store): \(advice)", underlying: error)
    }
}
