import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOConcurrencyHelpers
#if DistributedTracingSupport
import Tracing
#endif

/// A client for a Consul agent's HTTP API: KV, blocking queries, sessions, agent services and health.
///
/// ```swift
/// let consul = ConsulClient(.init(address: "http://127.0.0.1:8500"))
/// _ = try await consul.kv.put("app/config", value: Array("v1".utf8), cas: 0)   // create if absent
/// let entry = try await consul.kv.get("app/config", consistency: .consistent)
/// try await consul.shutdown()
/// ```
///
/// The client runs on AsyncHTTPClient over a shared NIO event loop group. It owns its
/// `HTTPClient` unless one is passed in; call `shutdown()` when done either way.
public final class ConsulClient: Sendable {
    /// The configuration the client was created with.
    public let configuration: Configuration

    let httpClient: HTTPClient
    private let ownsHTTPClient: Bool
    /// The parsed address, or why it is unusable (reported by every call).
    let endpoint: Result<ConsulEndpoint, ConsulError>
    private let tlsConfiguration: Result<TLSConfiguration?, ConsulError>
    private let state = NIOLockedValueBox(false)  // shut down?
    let metrics: ConsulMetrics
    #if DistributedTracingSupport
    let tracer: any Tracer
    #endif
    var logger: Logger { configuration.logger }

    /// Creates a client. Nothing is sent until the first call.
    ///
    /// An invalid address or unreadable TLS files do not fail here; every call then throws
    /// a `ConsulError` that says what is wrong.
    /// - Parameters:
    ///   - configuration: where the agent is and how to talk to it.
    ///   - httpClient: an `HTTPClient` to share; default `nil`: the client creates (and `shutdown()`
    ///     shuts down) its own. `Configuration.TLS.serverName` needs a client-owned `HTTPClient`.
    ///   - eventLoopGroup: the group for a client-owned `HTTPClient`; default the process-wide singleton.
    public init(
        _ configuration: Configuration, httpClient: HTTPClient? = nil,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.metrics = ConsulMetrics(factory: configuration.metricsFactory)
        #if DistributedTracingSupport
        self.tracer = configuration.tracer ?? InstrumentationSystem.tracer
        #endif
        let endpoint = Result { () throws(ConsulError) in
            try ConsulEndpoint.parse(configuration.address, defaultTLS: configuration.tls != nil)
        }
        self.endpoint = endpoint
        let usesTLS = (try? endpoint.get().isTLS) ?? false
        self.tlsConfiguration = Result { () throws(ConsulError) -> TLSConfiguration? in
            guard usesTLS else { return nil }
            return try (configuration.tls ?? .init()).makeTLSConfiguration()
        }
        if let httpClient {
            self.httpClient = httpClient
            self.ownsHTTPClient = false
        } else {
            var http = HTTPClient.Configuration()
            http.timeout = .init(connect: configuration.timeouts.connect.timeAmount, read: nil)
            http.connectionPool = .init(
                idleTimeout: .seconds(60),
                concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, configuration.maximumConnections))
            http.redirectConfiguration = .disallow
            http.decompression = .disabled
            if let tls = try? self.tlsConfiguration.get() { http.tlsConfiguration = tls }
            if let serverName = configuration.tls?.serverName, let endpoint = try? endpoint.get() {
                http.dnsOverride = [serverName.lowercased(): endpoint.host]
            }
            self.httpClient = HTTPClient(eventLoopGroupProvider: .shared(eventLoopGroup), configuration: http)
            self.ownsHTTPClient = true
        }
    }

    deinit {
        if ownsHTTPClient, !state.withLockedValue({ $0 }) {
            // A client-owned HTTPClient must be shut down; do it here when the user forgot.
            let client = httpClient
            client.shutdown { _ in }
        }
    }

    /// The key/value store.
    public var kv: ConsulKV { ConsulKV(client: self) }

    /// Shuts the client down: calls in flight fail with `.shutdown`, and a client-owned
    /// `HTTPClient` is shut down. Calling it twice is harmless.
    /// - Throws: `ConsulError` when the HTTP client fails to shut down.
    public func shutdown() async throws {
        let already = state.withLockedValue { wasShutDown in
            defer { wasShutDown = true }
            return wasShutDown
        }
        guard !already, ownsHTTPClient else { return }
        do {
            try await httpClient.shutdown()
        } catch {
            throw ConsulError(.shutdown, message: "the HTTP client did not shut down cleanly", underlying: error)
        }
    }
}

// MARK: - Requests

/// What came back from Consul, with the blocking-query headers.
struct ConsulResponse: Sendable {
    var status: Int
    var body: ByteBuffer
    var meta: ConsulQueryMeta
    var path: String

    var bytes: [UInt8] { Array(buffer: body) }
    var text: String { String(buffer: body) }

    func decode<T: Decodable>(_ type: T.Type) throws(ConsulError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw ConsulError(
                .badResponse,
                message: "cannot decode Consul's answer to \(path) as \(T.self) — is the address a Consul agent?",
                httpStatus: status, path: path, underlying: error)
        }
    }
}

extension ConsulClient {
    /// Percent-encodes a key or id for use in a path (keeps `/`).
    static func escapePath(_ text: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: ";%?#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    static func escapeQuery(_ text: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+#%;")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// Sends one request.
    /// - Parameters:
    ///   - path: `/v1/...`, already escaped.
    ///   - query: items; a `nil` value is a flag (`?recurse`).
    ///   - okStatuses: statuses that are answers, not errors (2xx always are).
    ///   - blockingWait: the `wait` of a blocking query, to extend the deadline.
    func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String?)] = [], body: [UInt8]? = nil,
        okStatuses: Set<Int> = [], blockingWait: Duration? = nil, operation: String
    ) async throws(ConsulError) -> ConsulResponse {
        guard !state.withLockedValue({ $0 }) else {
            throw ConsulError(.shutdown, message: "the ConsulClient was shut down — create a new one", path: path)
        }
        let endpoint = try endpoint.get()
        let tls = try tlsConfiguration.get()

        var items = query
        if let dc = configuration.datacenter { items.append(("dc", dc)) }
        if let ns = configuration.namespace { items.append(("ns", ns)) }
        var url = endpoint.scheme + "://"
        if let serverName = configuration.tls?.serverName, endpoint.isTLS, ownsHTTPClient {
            url += serverName.lowercased()
        } else {
            url += endpoint.urlHost
        }
        url += ":\(endpoint.port)\(path)"
        if !items.isEmpty {
            url += "?" + items.map { name, value in
                value.map { "\(name)=\(Self.escapeQuery($0))" } ?? name
            }.joined(separator: "&")
        }

        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token = configuration.token, !token.isEmpty { request.headers.add(name: "X-Consul-Token", value: token) }
        if let body { request.body = .bytes(body) }  // AsyncHTTPClient sets Content-Length
        if !ownsHTTPClient, let tls { request.tlsConfiguration = tls }

        var deadline = configuration.timeouts.request
        if let wait = blockingWait { deadline = wait + wait / 16 + configuration.timeouts.request }

        let started = ContinuousClock.now
        #if DistributedTracingSupport
        let span = ConsulTracing.start(operation, method: method, path: path, endpoint: endpoint, tracer: tracer)
        #endif
        logger.debug(
            "consul request", metadata: ["consul.method": "\(method.rawValue)", "consul.path": "\(path)", "consul.endpoint": "\(endpoint.display)"])
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await httpClient.execute(request, timeout: deadline.timeAmount)
            body = try await response.body.collect(upTo: 64 << 20)
        } catch {
            let mapped = mapTransportError(error, endpoint: endpoint, method: method, path: path, deadline: deadline)
            metrics.recordFailure(operation: operation, code: mapped.code, started: started)
            #if DistributedTracingSupport
            ConsulTracing.end(span, status: nil, error: mapped)
            #endif
            logger.debug("consul request failed", error: mapped, metadata: ["consul.path": "\(path)"])
            throw mapped
        }
        let status = Int(response.status.code)
        let meta = ConsulQueryMeta(headers: response.headers)
        let result = ConsulResponse(status: status, body: body, meta: meta, path: path)
        logger.debug(
            "consul response", metadata: ["consul.path": "\(path)", "consul.status": "\(status)", "consul.index": "\(meta.index)"])
        if (200..<300).contains(status) || okStatuses.contains(status) {
            metrics.recordSuccess(operation: operation, started: started)
            #if DistributedTracingSupport
            ConsulTracing.end(span, status: status, error: nil)
            #endif
            return result
        }
        let error = ConsulError.fromResponse(status: status, body: result.text, method: method.rawValue, path: path)
        metrics.recordFailure(operation: operation, code: error.code, started: started)
        #if DistributedTracingSupport
        ConsulTracing.end(span, status: status, error: error)
        #endif
        throw error
    }

    private func mapTransportError(
        _ error: any Error, endpoint: ConsulEndpoint, method: HTTPMethod, path: String, deadline: Duration
    ) -> ConsulError {
        let request = "\(method.rawValue) \(path)"
        if let error = error as? ConsulError { return error }
        if error is CancellationError || (error as? HTTPClientError) == .cancelled {
            return ConsulError(.cancelled, message: "\(request) was cancelled", path: path, underlying: error)
        }
        if let http = error as? HTTPClientError {
            switch http {
            case .deadlineExceeded, .readTimeout, .writeTimeout:
                return ConsulError(
                    .timeout,
                    message: "\(request) to Consul at \(endpoint.display) did not finish within \(deadline) — "
                        + "is the agent overloaded or partitioned? Raise Configuration.timeouts.request if needed",
                    path: path, underlying: error)
            case .alreadyShutdown:
                return ConsulError(
                    .shutdown, message: "the HTTP client was shut down — create a new ConsulClient", path: path,
                    underlying: error)
            case .connectTimeout, .remoteConnectionClosed, .getConnectionFromPoolTimeout:
                break
            default:
                break
            }
        }
        if error is NIOSSLError || error is BoringSSLError
            || String(describing: type(of: error)).contains("SSL")
        {
            return ConsulError(
                .tls,
                message: "TLS with Consul at \(endpoint.display) failed — is the agent serving HTTPS on this port? "
                    + "Check the CA (CONSUL_CACERT), the server name (CONSUL_TLS_SERVER_NAME) and the client "
                    + "certificate (CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY)",
                path: path, underlying: error)
        }
        return ConsulError(
            .unreachable,
            message: "cannot reach Consul at \(endpoint.display) for \(request) (\(ConsulError.causePhrase(error))) — "
                + "is the agent running there, and is the address right?",
            path: path, underlying: error)
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// A Go duration string (`"15s"`, `"1500ms"`), as Consul's `wait`, `TTL` and `LockDelay` take.
    var goString: String {
        let ns = nanoseconds
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        return "\(ns)ns"
    }

    /// Parses a Go duration string such as `"15s"`, `"1m30s"`, `"1h0m0s"`, `"100ms"`.
    static func parseGo(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if rest == "0" { return .zero }
        var total: Double = 0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter || $0 == "µ" }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "h": scale = 3600e9
            case "m": scale = 60e9
            case "s": scale = 1e9
            case "ms": scale = 1e6
            case "us", "µs": scale = 1e3
            case "ns": scale = 1
            default: return nil
            }
            total += value * scale
        }
        return .nanoseconds(Int64(total))
    }
}
