import CNGHTTP2
import NIOSSL

/// How the gRPC transport's failures become errors: grpc-status, HTTP/2 error codes, nghttp2
/// errors and the state machine's reasons, each with a message that says what to do.
extension EtcdError {
    typealias Failure = GRPCConnectionStateMachine.Failure

    /// The error of a call on `endpoint` that failed for `failure`; `lastError` is what closed the
    /// connection, if it closed.
    static func call(_ failure: Failure, path: String, endpoint: EtcdEndpoint, lastError: (any Error)?) -> EtcdError {
        func notProcessed(_ code: Code, _ message: String) -> EtcdError {
            var error = EtcdError(code: code, message: message, endpoint: endpoint.description)
            error.notProcessed = true
            return error
        }
        switch failure {
        case .cancelled:
            return EtcdError(code: .cancelled, message: "the call was cancelled", endpoint: endpoint.description)
        case .connectionClosing:
            return notProcessed(.unavailable, "the connection to etcd at \(endpoint) is closing — retry")
        case .goAwayBeforeSending:
            return notProcessed(.unavailable, "etcd at \(endpoint) is going away (GOAWAY) and the call was not sent — retried on a new connection")
        case .deadlineWhileQueued(let timeout, let limit):
            return notProcessed(.deadlineExceeded, "\(path) waited \(timeout) for a free stream on the connection to etcd at \(endpoint) (it allows \(limit) concurrent streams, --max-concurrent-streams) and was never sent — make fewer concurrent calls, or raise the timeout or the server's limit")
        case .deadlineBeforeSending:
            return notProcessed(.deadlineExceeded, "\(path) reached its deadline waiting for a free stream on the connection to etcd at \(endpoint) and was never sent — make fewer concurrent calls, or raise the timeout")
        case .deadlineExceeded(let timeout):
            return EtcdError(code: .deadlineExceeded,
                             message: "etcd at \(endpoint) did not answer \(path) within \(timeout) — is it overloaded, stopped or partitioned? the call may or may not have been applied",
                             endpoint: endpoint.description)
        case .startFailed(let rc):
            return notProcessed(.unavailable, "could not start a call to etcd at \(endpoint): \(String(cString: nghttp2_strerror(rc))) — retry")
        case .messageTooLarge(let size, let limit):
            return EtcdError(code: .resourceExhausted,
                             message: "etcd at \(endpoint) sent a \(size)-byte message on \(path), over Configuration.maxResponseSize (\(limit)) — raise it or ask for less (limit, keysOnly)",
                             endpoint: endpoint.description)
        case .compressedMessage:
            return EtcdError(code: .protocolError,
                             message: "etcd at \(endpoint) sent a compressed message, which this client never asked for",
                             endpoint: endpoint.description)
        case .connectionLost:
            return connectionLost(endpoint: endpoint, lastError: lastError)
        case .connectionLostAfterGoAway:
            // The server may have processed it (GOAWAY said so) but closed before answering.
            return EtcdError(code: .unavailable,
                             message: "etcd at \(endpoint) went away (GOAWAY) and closed the connection before answering \(path) — the call may or may not have been applied: reads are retried elsewhere, a write is not (re-read, then write again if needed)",
                             endpoint: endpoint.description, underlying: lastError)
        case .connectionLostBeforeSending:
            // Never sent: safe to retry anywhere, even writes.
            var error = connectionLost(endpoint: endpoint, lastError: lastError)
            error.notProcessed = true
            return error
        }
    }

    /// The outcome of a stream nghttp2 closed: `nil` for grpc-status 0. The grpc-status decides
    /// when there is one, then the HTTP/2 error code, then the HTTP status.
    static func streamEnded(_ end: GRPCConnectionStateMachine.StreamEnd, grpcStatus: Int?, grpcMessage: String?,
                            httpStatus: Int?, path: String, endpoint: EtcdEndpoint) -> EtcdError? {
        if let status = grpcStatus {
            return status == 0 ? nil : .fromStatus(status, message: grpcMessage ?? "", endpoint: endpoint.description)
        }
        switch end {
        case .refused:
            var error = EtcdError(code: .unavailable,
                                  message: "etcd at \(endpoint) refused the stream before processing it (GOAWAY or stream limit) — retried elsewhere",
                                  endpoint: endpoint.description)
            error.notProcessed = true
            return error
        case .cancelledAtDeadline:
            // The server gave up at the grpc-timeout we sent, just before our own timer fired.
            return EtcdError(code: .deadlineExceeded,
                             message: "etcd at \(endpoint) did not finish \(path) before its deadline — is it overloaded, or without quorum? the call may or may not have been applied",
                             endpoint: endpoint.description)
        case .reset(let errorCode):
            return EtcdError(code: .unavailable,
                             message: "etcd at \(endpoint) reset the stream \(path) (HTTP/2 error \(errorCode)) — retry",
                             endpoint: endpoint.description)
        case .noError:
            if let http = httpStatus, http != 200 {
                return EtcdError(code: http == 404 ? .unimplemented : .unavailable,
                                 message: "etcd at \(endpoint) answered \(path) with HTTP \(http) and no gRPC status — is this an etcd v3 client URL?",
                                 endpoint: endpoint.description)
            }
            return EtcdError(code: .protocolError, message: "etcd at \(endpoint) ended \(path) without a grpc-status",
                             endpoint: endpoint.description)
        }
    }

    /// The error of calls on a connection that closed because of `lastError` (nil: the peer closed it).
    static func connectionLost(endpoint: EtcdEndpoint, lastError: (any Error)?) -> EtcdError {
        if let error = lastError as? EtcdError { return error }
        if let error = lastError, error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return EtcdError(code: .tlsFailure,
                             message: "TLS with etcd at \(endpoint) failed (\(causePhrase(error))) — check Configuration.tls (CA file, server name, client certificate)",
                             endpoint: endpoint.description, underlying: error)
        }
        return EtcdError(code: .unavailable,
                         message: "the connection to etcd at \(endpoint) was lost\(lastError.map { " (\(causePhrase($0)))" } ?? "") — the client reconnects, possibly to another endpoint",
                         endpoint: endpoint.description, underlying: lastError)
    }

    /// `nghttp2_session_mem_recv` failed with `rc`: the peer does not speak HTTP/2 (or breaks it).
    static func http2ReceiveFailed(_ rc: Int32, endpoint: EtcdEndpoint) -> EtcdError {
        EtcdError(code: .protocolError,
                  message: "HTTP/2 protocol error from etcd at \(endpoint): \(String(cString: nghttp2_strerror(rc))) — is this an etcd client URL?",
                  endpoint: endpoint.description)
    }

    /// `nghttp2_session_mem_send` failed with `rc`.
    static func http2SendFailed(_ rc: Int32, endpoint: EtcdEndpoint) -> EtcdError {
        EtcdError(code: .protocolError,
                  message: "nghttp2 failed to send to \(endpoint): \(String(cString: nghttp2_strerror(rc)))",
                  endpoint: endpoint.description)
    }

    /// The keepalive PING was not answered within `timeout`.
    static func keepAliveTimedOut(endpoint: EtcdEndpoint, timeout: Duration) -> EtcdError {
        EtcdError(code: .unavailable,
                  message: "etcd at \(endpoint) did not answer a keepalive PING within \(timeout) — the connection is considered dead",
                  endpoint: endpoint.description)
    }

    /// Maps a gRPC status and etcd's message to an error that says what to do.
    static func fromStatus(_ status: Int, message serverMessage: String, endpoint: String) -> EtcdError {
        let text = serverMessage.isEmpty ? "gRPC status \(status)" : serverMessage
        func make(_ code: Code, _ advice: String) -> EtcdError {
            EtcdError(code: code, message: "etcd at \(endpoint): \(text) — \(advice)", grpcStatus: status,
                      serverMessage: serverMessage, endpoint: endpoint)
        }
        if serverMessage.contains("required revision has been compacted") {
            return make(.compacted, "read at a newer revision, or watch from the current revision")
        }
        if serverMessage.contains("invalid auth token") || serverMessage.contains("invalid auth management") {
            return make(.unauthenticated, "the client re-authenticates automatically; check the credentials")
        }
        // etcd passes Go's context errors through as UNKNOWN.
        if status == 2 && serverMessage.contains("context deadline exceeded") {
            return make(.deadlineExceeded, "the server did not finish in time (no quorum, or overloaded?); retry, or raise the timeout — the call may or may not have been applied")
        }
        if status == 2 && serverMessage.contains("context canceled") {
            return make(.cancelled, "the call was cancelled")
        }
        switch status {
        case 1: return make(.cancelled, "the call was cancelled")
        case 3:
            if serverMessage.contains("authentication failed") {
                return make(.unauthenticated, "check the user name and password in Configuration.credentials")
            }
            if serverMessage.contains("user name is empty") || serverMessage.contains("user name not found") {
                return make(.unauthenticated, "configure Configuration.credentials for this etcd")
            }
            return make(.invalidArgument, "fix the request")
        case 4: return make(.deadlineExceeded, "the server did not finish in time; retry, or raise the timeout")
        case 5: return make(.notFound, "the lease, member or key does not exist (any more)")
        case 6: return make(.alreadyExists, "it already exists")
        case 7: return make(.permissionDenied, "grant the user a role with permission on this key")
        case 8: return make(.resourceExhausted, "send smaller requests, or raise the server's limits")
        case 9: return make(.failedPrecondition, "the server's state does not allow this call")
        case 10: return make(.aborted, "retry the call")
        case 11: return make(.outOfRange, "use a revision the server has")
        case 12: return make(.unimplemented, "this etcd does not support the call; upgrade etcd")
        case 13, 15: return make(.internal, "the server failed; see its log")
        case 14:
            var error = make(.unavailable, "the member is unavailable; the client moves to another endpoint")
            // "no leader" / "not capable" are refused before being proposed: never applied.
            if serverMessage.contains("no leader") || serverMessage.contains("not capable") {
                error.notProcessed = true
            }
            return error
        case 16: return make(.unauthenticated, "configure Configuration.credentials with a valid user and password")
        default: return make(.unknown, "unexpected gRPC status")
        }
    }
}
