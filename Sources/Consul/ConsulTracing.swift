#if DistributedTracingSupport
import NIOHTTP1
import Tracing

/// One client span per HTTP request to the agent: named `consul <operation>` (`consul kv.get`),
/// with `db.system.name` = `consul`, `db.operation.name`, `http.request.method`, `consul.path`
/// (the request path, `/v1/kv/<key>`: a key name, never a value, never the token or a query),
/// `server.address`, `server.port` and `http.response.status_code`. Started in the calling task,
/// so the caller's `ServiceContext` is its parent.
enum ConsulTracing {
    static func start(_ operation: String, method: HTTPMethod, path: String, endpoint: ConsulEndpoint, tracer: any Tracer) -> any Span {
        let span: any Span = tracer.startSpan("consul " + operation, context: .current ?? .topLevel, ofKind: .client)
        guard span.isRecording else { return span }
        span.updateAttributes { attributes in
            attributes["db.system.name"] = "consul"
            attributes["db.operation.name"] = operation
            attributes["http.request.method"] = method.rawValue
            attributes["consul.path"] = path
            attributes["server.address"] = endpoint.host
            attributes["server.port"] = endpoint.port
        }
        return span
    }

    static func end(_ span: any Span, status: Int?, error: ConsulError?) {
        if span.isRecording {
            if let status { span.attributes["http.response.status_code"] = status }
            if let error {
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error, message: error.code.description))
            }
        }
        span.end()
    }
}
#endif
