import Foundation
import Logging
import Metrics
#if DistributedTracingSupport
import Tracing
#endif
import NIOSSL

extension ConsulClient {
    /// How a `ConsulClient` reaches its Consul agent.
    ///
    /// Every property has a default; `Configuration.fromEnvironment()` reads the
    /// variables Consul's own command-line tools read.
    public struct Configuration: Sendable {
        /// The agent's HTTP address: `http://host:port`, `https://host:port`, or `host:port`
        /// (then `http`, or `https` when `tls` is set); the store URLs `consul://host:port` and
        /// `consuls://host:port` mean `http` and `https`. Default `http://127.0.0.1:8500`.
        /// A malformed address makes every call throw `ConsulError.Code.invalidArgument`.
        public var address: String
        /// The ACL token, sent as the `X-Consul-Token` header. Default `nil` (anonymous).
        /// Never logged and never part of an error.
        public var token: String?
        /// The datacenter to query (`?dc=`). Default `nil`: the agent's own datacenter.
        public var datacenter: String?
        /// The namespace (`?ns=`, Consul Enterprise). Default `nil`.
        public var namespace: String?
        /// The consistency of reads that do not name one. Default `.default`.
        public var defaultConsistency: ConsulConsistency
        /// TLS settings, used when the address is `https`. Default `nil`: for an `https`
        /// address the system's trust roots with full verification.
        public var tls: TLS?
        /// Deadlines. Default: see `Timeouts`.
        public var timeouts: Timeouts
        /// How many HTTP/1.1 connections the client keeps per agent; each blocking query or
        /// watch holds one while it waits. Default 32.
        public var maximumConnections: Int
        /// Where the client logs (`.debug` per request; never the token). Default: a logger that discards.
        public var logger: Logger
        /// Where the client's metrics go (see the Metrics article): nil (the default) uses the
        /// bootstrapped `MetricsSystem.factory`.
        public var metricsFactory: (any MetricsFactory)? = nil
        #if DistributedTracingSupport
        /// Where the client's spans go: one client span per request (see the Tracing article).
        /// nil (the default) uses the bootstrapped `InstrumentationSystem.tracer`.
        public var tracer: (any Tracer)? = nil
        #endif

        /// Creates a configuration.
        /// - Parameters:
        ///   - address: the agent's address, default `http://127.0.0.1:8500`.
        ///   - token: the ACL token, default none.
        ///   - datacenter: the datacenter, default the agent's.
        public init(address: String = "http://127.0.0.1:8500", token: String? = nil, datacenter: String? = nil) {
            self.address = address
            self.token = token
            self.datacenter = datacenter
            self.namespace = nil
            self.defaultConsistency = .default
            self.tls = nil
            self.timeouts = Timeouts()
            self.maximumConnections = 32
            self.logger = Logger(label: "autocluster.consul", factory: { _ in SwiftLogNoOpLogHandler() })
        }

        /// A configuration from the environment variables Consul's CLI reads:
        /// `CONSUL_HTTP_ADDR`, `CONSUL_HTTP_TOKEN`, `CONSUL_HTTP_SSL` (`true` → https),
        /// `CONSUL_HTTP_SSL_VERIFY` (`false` → no certificate verification), `CONSUL_CACERT`,
        /// `CONSUL_CLIENT_CERT`, `CONSUL_CLIENT_KEY`, `CONSUL_TLS_SERVER_NAME`, plus
        /// `CONSUL_DATACENTER` and `CONSUL_NAMESPACE`.
        /// - Parameter environment: the variables; default the process environment.
        public static func fromEnvironment(
            _ environment: [String: String] = ProcessInfo.processInfo.environment
        ) -> Configuration {
            func value(_ name: String) -> String? {
                guard let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
                return v
            }
            func flag(_ name: String) -> Bool? {
                guard let v = value(name)?.lowercased() else { return nil }
                return ["1", "true", "t", "yes", "on"].contains(v)
            }
            var configuration = Configuration(
                address: value("CONSUL_HTTP_ADDR") ?? "127.0.0.1:8500", token: value("CONSUL_HTTP_TOKEN"),
                datacenter: value("CONSUL_DATACENTER"))
            configuration.namespace = value("CONSUL_NAMESPACE")
            let wantsTLS =
                flag("CONSUL_HTTP_SSL") == true || configuration.address.lowercased().hasPrefix("https://")
                || value("CONSUL_CACERT") != nil || value("CONSUL_CLIENT_CERT") != nil
            if wantsTLS {
                var tls = TLS()
                tls.caFile = value("CONSUL_CACERT")
                tls.clientCertificateFile = value("CONSUL_CLIENT_CERT")
                tls.clientKeyFile = value("CONSUL_CLIENT_KEY")
                tls.serverName = value("CONSUL_TLS_SERVER_NAME")
                tls.insecureSkipVerify = flag("CONSUL_HTTP_SSL_VERIFY") == false
                configuration.tls = tls
                if flag("CONSUL_HTTP_SSL") == true, !configuration.address.contains("://") {
                    configuration.address = "https://" + configuration.address
                }
            }
            return configuration
        }

        /// TLS settings for an `https` agent address.
        public struct TLS: Sendable {
            /// A PEM file of the CA certificates to trust. Default `nil`: the system's trust roots.
            public var caFile: String?
            /// PEM text of the CA certificates to trust (instead of `caFile`). Default `nil`.
            public var caPEM: String?
            /// A PEM client certificate for agents with `verify_incoming`. Default `nil`.
            public var clientCertificateFile: String?
            /// The PEM private key of `clientCertificateFile`. Default `nil`.
            public var clientKeyFile: String?
            /// The name to verify the agent's certificate against (and send as SNI) when it differs
            /// from the address's host. Default `nil`: the address's host.
            public var serverName: String?
            /// Skip certificate verification entirely. Default `false`. Only for tests.
            public var insecureSkipVerify: Bool
            /// A complete NIOSSL configuration that replaces everything above except `serverName`.
            /// Default `nil`.
            public var tlsConfiguration: TLSConfiguration?

            /// Creates TLS settings: verification on, the system's trust roots.
            public init(
                caFile: String? = nil, clientCertificateFile: String? = nil, clientKeyFile: String? = nil,
                serverName: String? = nil, insecureSkipVerify: Bool = false
            ) {
                self.caFile = caFile
                self.caPEM = nil
                self.clientCertificateFile = clientCertificateFile
                self.clientKeyFile = clientKeyFile
                self.serverName = serverName
                self.insecureSkipVerify = insecureSkipVerify
                self.tlsConfiguration = nil
            }

            func makeTLSConfiguration() throws(ConsulError) -> TLSConfiguration {
                if let tlsConfiguration { return tlsConfiguration }
                var configuration = TLSConfiguration.makeClientConfiguration()
                do {
                    if let caFile {
                        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
                    } else if let caPEM {
                        configuration.trustRoots = .certificates(
                            try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
                    }
                } catch {
                    throw ConsulError(
                        .tls, message: "cannot read the CA certificates \(caFile.map { "in \($0)" } ?? "(caPEM)") "
                            + "— check that the file exists and holds PEM certificates", underlying: error)
                }
                switch (clientCertificateFile, clientKeyFile) {
                case (nil, nil): break
                case (let certificate?, let key?):
                    do {
                        configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate)
                            .map { .certificate($0) }
                        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
                    } catch {
                        throw ConsulError(
                            .tls, message: "cannot read the client certificate \(certificate) or key \(key) — "
                                + "check that both exist and are PEM", underlying: error)
                    }
                default:
                    throw ConsulError(
                        .invalidArgument,
                        message: "a client certificate needs both clientCertificateFile and clientKeyFile "
                            + "(CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY)")
                }
                if insecureSkipVerify { configuration.certificateVerification = .none }
                return configuration
            }
        }

        /// Deadlines for the client's requests.
        public struct Timeouts: Sendable {
            /// How long to wait for a TCP (and TLS) connection. Default 5 seconds.
            public var connect: Duration
            /// The deadline of a non-blocking request. Default 30 seconds. A blocking query's
            /// deadline is its `wait`, plus Consul's jitter (wait/16), plus this.
            public var request: Duration

            /// Creates timeouts.
            public init(connect: Duration = .seconds(5), request: Duration = .seconds(30)) {
                self.connect = connect
                self.request = request
            }
        }
    }
}

/// A parsed agent address.
struct ConsulEndpoint: Sendable, Hashable {
    var scheme: String
    var host: String
    var port: Int

    var isTLS: Bool { scheme == "https" }
    /// The host as it goes into a URL (IPv6 in brackets).
    var urlHost: String { host.contains(":") ? "[\(host)]" : host }
    var display: String { "\(scheme)://\(urlHost):\(port)" }

    /// Parses `scheme://host:port`, `host:port` or `host`.
    static func parse(_ address: String, defaultTLS: Bool) throws(ConsulError) -> ConsulEndpoint {
        func bad(_ why: String) -> ConsulError {
            ConsulError(
                .invalidArgument,
                message: "malformed Consul address \"\(address)\": \(why) — use http://HOST:PORT or https://HOST:PORT "
                    + "(e.g. http://127.0.0.1:8500)")
        }
        var rest = address.trimmingCharacters(in: .whitespaces)
        guard !rest.isEmpty else { throw bad("it is empty") }
        var scheme = defaultTLS ? "https" : "http"
        if let range = rest.range(of: "://") {
            scheme = rest[..<range.lowerBound].lowercased()
            rest = String(rest[range.upperBound...])
            // The package's store URLs (`consul://`, `consuls://`) name the same agent.
            if scheme == "consul" { scheme = "http" }
            if scheme == "consuls" { scheme = "https" }
            guard scheme == "http" || scheme == "https" else {
                throw bad("the scheme must be http or https, not \(scheme)")
            }
        }
        if rest.hasSuffix("/") { rest.removeLast() }
        guard !rest.contains("/"), !rest.contains("?"), !rest.contains("@") else {
            throw bad("it may not have a path, query or user")
        }
        var host: String
        var portText: String?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw bad("unclosed [ in the IPv6 host") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw bad("unexpected text after the IPv6 host") }
                portText = String(after.dropFirst())
            }
        } else {
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw bad("too many ':' (put an IPv6 host in [brackets])") }
            host = String(parts[0])
            if parts.count == 2 { portText = String(parts[1]) }
        }
        guard !host.isEmpty else { throw bad("the host is missing") }
        guard host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" || $0 == ":" })
        else { throw bad("the host has characters a host name cannot have") }
        var port = scheme == "https" ? 8501 : 8500
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw bad("the port must be 1–65535") }
            port = p
        }
        host = host.lowercased()
        return ConsulEndpoint(scheme: scheme, host: host, port: port)
    }
}
