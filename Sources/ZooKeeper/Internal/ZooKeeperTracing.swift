#if DistributedTracingSupport
import Tracing

/// One client span per operation: named `zookeeper <operation>` (`zookeeper get`), with
/// `db.system.name` = `zookeeper`, `db.operation.name`, `zookeeper.path` (never the data, never
/// credentials) and the connected server's `server.address` / `server.port`. The span starts in
/// the calling task, so the caller's `ServiceContext` is its parent, and ends where the result is
/// delivered: on the C client's completion thread, at the deadline or on cancellation.
enum ZooKeeperTracing {
    static func start(_ operation: String, path: String?, tracer: any Tracer, server: () -> String?) -> any Span {
        let span: any Span = tracer.startSpan("zookeeper " + operation, context: .current ?? .topLevel, ofKind: .client)
        guard span.isRecording else { return span }  // the no-op tracer: no attribute work per call
        let connected = server()
        span.updateAttributes { attributes in
            attributes["db.system.name"] = "zookeeper"
            attributes["db.operation.name"] = operation
            if let path { attributes["zookeeper.path"] = path }
            if let connected, let colon = connected.lastIndex(of: ":"), let port = Int(connected[connected.index(after: colon)...]) {
                var host = connected[..<colon]
                if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
                attributes["server.address"] = String(host)
                attributes["server.port"] = port
            }
        }
        return span
    }

    static func end(_ span: any Span, error: ZooKeeperError?) {
        if let error, span.isRecording {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error, message: error.code.description))
            span.attributes["db.response.status_code"] = error.code.description
        }
        span.end()
    }
}
#endif
