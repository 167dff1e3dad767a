#if DistributedTracingSupport
import Tracing

/// One client span per unary call, named and attributed as OpenTelemetry's gRPC conventions say
/// (`etcdserverpb.KV/Range`; `rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`,
/// `server.address`, `server.port`) plus `db.system.name` = `etcd` and `etcd.key` (the key or the
/// first key of a transaction — never a value, never the token). The span starts in the calling
/// task, so its parent is the caller's `ServiceContext`, and ends when the call's result (after
/// retries and failover) is known.
enum EtcdTracing {
    static func start(_ path: String, key: [UInt8]?, tracer: any Tracer) -> any Span {
        let name = path.hasPrefix("/") ? String(path.dropFirst()) : path
        let span: any Span = tracer.startSpan(name, context: .current ?? .topLevel, ofKind: .client)
        guard span.isRecording else { return span }  // the no-op tracer: no attribute work per call
        let service = name.split(separator: "/", maxSplits: 1)
        span.updateAttributes { attributes in
            attributes["rpc.system"] = "grpc"
            if service.count == 2 {
                attributes["rpc.service"] = String(service[0])
                attributes["rpc.method"] = String(service[1])
            }
            attributes["db.system.name"] = "etcd"
            if let key { attributes["etcd.key"] = String(decoding: key, as: UTF8.self) }
        }
        return span
    }

    static func end(_ span: any Span, endpoint: EtcdEndpoint?, error: EtcdError?) {
        guard span.isRecording else { return span.end() }
        span.updateAttributes { attributes in
            if let endpoint {
                attributes["server.address"] = endpoint.host
                attributes["server.port"] = endpoint.port
            }
            attributes["rpc.grpc.status_code"] = error?.grpcStatus ?? (error == nil ? 0 : nil)
        }
        if let error {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error, message: error.code.description))
        }
        span.end()
    }
}
#endif
