import Consul
import Etcd
import Foundation
import StoreTestSupport
import Testing
import ZooKeeper

/// The bad-input catalogue: malformed arguments, and servers that answer with garbage, truncated
/// frames or nothing. Each case must end with the client's documented error, in bounded time,
/// without crashing the process.
@Suite("bad input: etcd client", .timeLimit(.minutes(2)))
struct EtcdBadInputTests {
    static func configuration(_ endpoint: String) -> EtcdClient.Configuration {
        var configuration = EtcdClient.Configuration(endpoints: [endpoint])
        // Generous for a loaded 2-core machine running every suite at once.
        configuration.timeouts = .init(connect: .seconds(3), request: .seconds(3))
        configuration.retry = .init(maxAttempts: 2, initialBackoff: .milliseconds(20))
        return configuration
    }

    @Test("malformed endpoint URLs → .invalidArgument at connect", arguments: [
        "", "ftp://127.0.0.1:2379", "http://:2379", "http://127.0.0.1:0", "http://127.0.0.1:99999",
        "http://127.0.0.1:2379/v3/kv", "http://[::1:2379", "unix:///tmp/etcd.sock", "http://bad host:2379",
        "http://127.0.0.1:-1", "http://127.0.0.1:abc", "http://user@127.0.0.1:2379", "http://127.0.0.1\u{7}:2379",
        "http://éтcd:2379",
    ])
    func malformedEndpoint(_ endpoint: String) async throws {
        let (result, elapsed) = await timed { try await EtcdClient.connect(Self.configuration(endpoint)) }
        if case .success(let client) = result { await client.close() }
        #expect((result.failureIfAny as? EtcdError)?.code == .invalidArgument, "\(endpoint.debugDescription): \(String(describing: result.failureIfAny))")
        #expect(elapsed < .seconds(1))
    }

    @Test("no endpoints at all → .invalidArgument")
    func noEndpoints() async throws {
        var configuration = Self.configuration("x")
        configuration.endpoints = []
        let empty = await expectError(EtcdError.self) { _ = try await EtcdClient.connect(configuration) }
        #expect(empty?.code == .invalidArgument)
    }

    /// A broken server and the one error code a call against it ends with.
    struct BrokenServer: Sendable, CustomStringConvertible {
        var description: String
        var scenario: RawServer.Scenario
        /// Whether connect itself must fail (the server never completes the HTTP/2 handshake).
        var connectFails: Bool
        var expected: EtcdError.Code
    }

    static let brokenServers: [BrokenServer] = [
        .init(description: "closes every connection at once", scenario: { _, _ in ([], true) },
              connectFails: true, expected: .connectionFailed),
        .init(description: "answers the HTTP/2 preface with HTTP/1 garbage", scenario: { input, _ in
            input.isEmpty ? ([], false) : (Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad".utf8), true)
        }, connectFails: true, expected: .connectionFailed),
        .init(description: "answers the preface with random bytes and stays open", scenario: { input, cursor in
            guard !input.isEmpty, cursor == 0 else { return ([], false) }
            cursor = 1
            return ((0..<512).map { _ in UInt8.random(in: 0...255) }, false)
        }, connectFails: true, expected: .connectionFailed),
        .init(description: "accepts and never answers", scenario: { _, _ in ([], false) },
              connectFails: true, expected: .connectionFailed),
        .init(description: "completes the handshake, then closes mid-call", scenario: H2.server(closeAfter: true) { _ in [] },
              connectFails: false, expected: .unavailable),
        .init(description: "sends half a frame header, then closes", scenario: H2.server(closeAfter: true) { _ in
            [0x00, 0x00, 0x40, 0x00]
        }, connectFails: false, expected: .unavailable),
        .init(description: "truncated gRPC message: the prefix claims 100 bytes, 10 arrive, stream ends", scenario: H2.server { stream in
            H2.responseHeaders(stream: stream) + H2.data(stream: stream, H2.grpcMessage(claimedLength: 100, Array(repeating: 0, count: 10)), endStream: true)
        }, connectFails: false, expected: .protocolError),
        .init(description: "truncated gRPC message then an OK trailer", scenario: H2.server { stream in
            H2.responseHeaders(stream: stream) + H2.data(stream: stream, H2.grpcMessage(claimedLength: 100, Array(repeating: 0, count: 10)))
                + H2.trailers(stream: stream, status: "0")
        }, connectFails: false, expected: .protocolError),
        .init(description: "a gRPC message of undecodable protobuf", scenario: H2.server { stream in
            H2.responseHeaders(stream: stream) + H2.data(stream: stream, H2.grpcMessage(claimedLength: 16, Array(repeating: 0xff, count: 16)))
                + H2.trailers(stream: stream, status: "0")
        }, connectFails: false, expected: .protocolError),
        .init(description: "a gRPC length prefix of 2 GiB", scenario: H2.server { stream in
            H2.responseHeaders(stream: stream) + H2.data(stream: stream, H2.grpcMessage(claimedLength: 0x7fff_ffff, [1, 2, 3]))
        }, connectFails: false, expected: .resourceExhausted),
        .init(description: "a compressed-flag message (never negotiated)", scenario: H2.server { stream in
            H2.responseHeaders(stream: stream) + H2.data(stream: stream, [1, 0, 0, 0, 2, 0x08, 0x01]) + H2.trailers(stream: stream, status: "0")
        }, connectFails: false, expected: .protocolError),
        .init(description: "no grpc-status trailer at all", scenario: H2.server { stream in
            H2.responseHeaders(stream: stream) + H2.data(stream: stream, H2.grpcMessage(claimedLength: 0, []), endStream: true)
        }, connectFails: false, expected: .protocolError),
        .init(description: "grpc-status is not a number", scenario: H2.server { stream in
            H2.responseHeaders(stream: stream) + H2.trailers(stream: stream, status: "OK?")
        }, connectFails: false, expected: .protocolError),
        .init(description: "grpc-message is broken percent-encoding", scenario: H2.server { stream in
            H2.responseHeaders(stream: stream) + H2.trailers(stream: stream, status: "2", message: "%ZZ%%%4")
        }, connectFails: false, expected: .unknown),
        // nghttp2 refuses the header field itself (a DEL byte): the trailers never arrive whole.
        .init(description: "a trailer value with a control character", scenario: H2.server { stream in
            H2.responseHeaders(stream: stream) + H2.trailers(stream: stream, status: "0", message: "bad\u{7f}")
        }, connectFails: false, expected: .protocolError),
        .init(description: "an unknown grpc-status with a message", scenario: H2.server { stream in
            H2.responseHeaders(stream: stream) + H2.trailers(stream: stream, status: "99", message: "weird%20failure")
        }, connectFails: false, expected: .unknown),
        .init(description: "an HTTP 500 instead of a gRPC answer", scenario: H2.server { stream in
            H2.frame(type: 1, flags: 0x5, stream: stream, [0x8e])  // :status 500, END_STREAM
        }, connectFails: false, expected: .unavailable),
        .init(description: "RST_STREAM instead of an answer", scenario: H2.server { stream in
            H2.frame(type: 3, flags: 0, stream: stream, [0, 0, 0, 2])  // INTERNAL_ERROR
        }, connectFails: false, expected: .unavailable),
        .init(description: "GOAWAY instead of an answer", scenario: H2.server(closeAfter: false) { stream in
            H2.frame(type: 7, flags: 0, stream: 0, [0, 0, 0, 0, 0, 0, 0, 1])  // last stream 0, PROTOCOL_ERROR
        }, connectFails: false, expected: .unavailable),
    ]

    @Test("a broken server: the documented error, in bounded time, no crash", arguments: brokenServers)
    func brokenServer(_ broken: BrokenServer) async throws {
        let server = try await RawServer.start(broken.scenario)
        defer { Task { await server.stop() } }
        let configuration = Self.configuration("http://\(server.address)")
        let (result, elapsed) = await timed { () -> EtcdRangeResponse in
            let client = try await EtcdClient.connect(configuration)
            #expect(!broken.connectFails, "connect should have failed against a server that \(broken)")
            do {
                let response = try await client.range(prefix: "k")
                await client.close()
                return response
            } catch {
                await client.close()
                throw error
            }
        }
        // A server that never completes the handshake: connect's own time-out. Otherwise connect,
        // then every attempt of the call (each may reconnect first) and the backoff between them.
        let timeouts = configuration.timeouts, retry = configuration.retry
        let bound = broken.connectFails
            ? timeouts.connect + timingSlack
            : timeouts.connect + (timeouts.connect + timeouts.request) * retry.maxAttempts
                + retry.maxBackoff * (retry.maxAttempts - 1) + timingSlack
        #expect(elapsed < bound, "took \(elapsed), over \(bound)")
        let error = result.failureIfAny
        #expect(error is EtcdError, "\(broken): \(String(describing: error))")
        if let error = error as? EtcdError {
            #expect(error.code == broken.expected, "\(broken): got \(error)")
            #expect(error.message.contains(server.address) || error.endpoint?.contains(server.address) == true,
                    "the error names the endpoint: \(error)")
        }
        await server.stop()
    }

    @Test("keys and values: empty key, oversized value, invalid UTF-8 bytes", .enabled(if: TestStores.shouldRun(TestStores.etcdEndpoints)))
    func keysAndValues() async throws {
        let endpoints = try TestStores.require(TestStores.etcdEndpoints, "ETCD_ENDPOINTS")
        var configuration = EtcdClient.Configuration(endpoints: endpoints)
        configuration.timeouts = .init(connect: .seconds(3), request: .seconds(10))
        let client = try await EtcdClient.connect(configuration)
        for call in [
            { _ = try await client.get("") },
            { _ = try await client.put("", value: [1]) },
            { _ = try await client.delete("") },
            { _ = try await client.txn(compare: [.value("", .equal, [])], success: [], failure: []) },
        ] as [() async throws -> Void] {
            #expect(await expectError(EtcdError.self, call)?.code == .invalidArgument)
        }
        let tooLarge = [UInt8](repeating: 7, count: configuration.maxRequestSize + 1)
        let large = await expectError(EtcdError.self) { _ = try await client.put("/\(uniqueName("big"))", value: tooLarge) }
        #expect(large?.code == .invalidArgument)
        #expect(large?.message.contains("maxRequestSize") == true)
        #expect(large?.grpcStatus == nil, "refused by the client, before sending")
        // Bigger than the server accepts but under the client's raised limit: sent, so the refusal
        // is etcd's (it carries etcd's gRPC status). Over etcd's gRPC message limit
        // (--max-request-bytes + 512 KiB = 2 MiB): the gRPC layer's RESOURCE_EXHAUSTED.
        var lenient = configuration
        lenient.maxRequestSize = 8 << 20
        let lenientClient = try await EtcdClient.connect(lenient)
        let refused = await expectError(EtcdError.self) {
            _ = try await lenientClient.put("/\(uniqueName("big"))", value: [UInt8](repeating: 7, count: 3 << 20))
        }
        #expect(refused?.code == .resourceExhausted, "\(String(describing: refused))")
        #expect(refused?.grpcStatus == 8, "etcd's own RESOURCE_EXHAUSTED: \(String(describing: refused))")
        // Over --max-request-bytes (1.5 MiB) but under the gRPC limit: etcd itself refuses
        // ("request is too large") with INVALID_ARGUMENT.
        let tooLargeForEtcd = await expectError(EtcdError.self) {
            _ = try await lenientClient.put("/\(uniqueName("big"))", value: [UInt8](repeating: 7, count: 1_800_000))
        }
        #expect(tooLargeForEtcd?.code == .invalidArgument, "\(String(describing: tooLargeForEtcd))")
        #expect(tooLargeForEtcd?.grpcStatus == 3, "etcd's own INVALID_ARGUMENT: \(String(describing: tooLargeForEtcd))")
        #expect(tooLargeForEtcd?.serverMessage?.contains("too large") == true, "\(String(describing: tooLargeForEtcd))")
        await lenientClient.close()

        // etcd keys and values are bytes: invalid UTF-8 is data, not an error, and round-trips.
        let prefix = Array("/\(uniqueName("bytes"))/".utf8)
        let key = prefix + [0xff, 0xfe, 0x00, 0xc3]
        let value: [UInt8] = [0xed, 0xa0, 0x80, 0xff, 0x00]
        var put = EtcdPutRequest(key: "", value: value)
        put.key = key
        _ = try await client.put(put)
        let read = try await client.range(EtcdRangeRequest(key: key, rangeEnd: nil))
        #expect(read.kvs.first?.key == key)
        #expect(read.kvs.first?.value == value)
        _ = try await client.delete(EtcdDeleteRequest(key: key, rangeEnd: nil))
        await client.close()
    }
}

@Suite("bad input: ZooKeeper client", .timeLimit(.minutes(2)))
struct ZooKeeperBadInputTests {
    /// Paths ZooKeeper's C client would send and the server refuse: the client refuses them itself.
    static let malformedPaths = ["", "x", "/a/", "/a//b", "/a/./b", "/a/../b", "/a\0b"]

    @Test("malformed paths and oversized data → .badArguments, and nothing is sent (a recording server sees no request)")
    func refusedBeforeSending() async throws {
        let server = try await RecordingZooKeeperServer.start()
        var configuration = ZooKeeperClient.Configuration(connectString: server.address, sessionTimeout: .seconds(10))
        configuration.connectTimeout = .seconds(5)
        configuration.operationTimeout = .seconds(1)
        let zk = try await ZooKeeperClient.connect(configuration)
        let before = server.requests
        for path in Self.malformedPaths {
            for (what, call) in [
                ("get", { _ = try await zk.get(path) }), ("create", { _ = try await zk.create(path) }),
                ("set", { _ = try await zk.set(path, data: []) }), ("delete", { try await zk.delete(path) }),
            ] as [(String, () async throws -> Void)] {
                let (result, elapsed) = await timed(call)
                #expect((result.failureIfAny as? ZooKeeperError)?.code == .badArguments,
                        "\(what) \(path.debugDescription): \(String(describing: result.failureIfAny))")
                #expect(elapsed < timingSlack, "\(what) \(path.debugDescription) took \(elapsed)")
            }
        }
        let tooLarge = [UInt8](repeating: 1, count: configuration.maximumDataSize + 1)
        #expect(await expectError(ZooKeeperError.self) { _ = try await zk.create("/big", data: tooLarge) }?.code == .badArguments)
        #expect(server.requests == before, "a refused call reached the wire: opcodes \(server.requests)")
        #expect(zk.sessionState == .connected, "the session survived the refusals")
        // The control: a valid call is sent (opcode 3, exists), so the recorder would have seen the others.
        _ = await timed { _ = try await zk.exists("/valid") }
        #expect(server.requests == before + [RecordingZooKeeperServer.exists], "opcodes \(server.requests)")
        await zk.close()
        await server.stop()
    }

    @Test("malformed connect strings → .badArguments at connect, in under a second")
    func malformedConnectStrings() async throws {
        for bad in ["", "host", "host:", "host:99999", ":2181", "a:1,", "a:1/chroot/", "h:1/a//b"] {
            let (result, elapsed) = await timed { try await ZooKeeperClient.connect(.init(connectString: bad)) }
            #expect((result.failureIfAny as? ZooKeeperError)?.code == .badArguments, "\(bad.debugDescription)")
            #expect(elapsed < .seconds(1))
        }
    }

    @Test("the real server: control characters in a path get the server's answer, no crash or hang; invalid UTF-8 data round-trips",
          .enabled(if: TestStores.shouldRun(TestStores.zooKeeperConnect), "needs ZOOKEEPER_CONNECT (scripts/test.sh)"))
    func serverSide() async throws {
        let connect = try TestStores.require(TestStores.zooKeeperConnect, "ZOOKEEPER_CONNECT")
        var configuration = ZooKeeperClient.Configuration(connectString: connect)
        configuration.operationTimeout = .seconds(5)
        let zk = try await ZooKeeperClient.connect(configuration)
        for path in ["/\u{1}", "/a/\u{FFFF}"] {
            for call in [
                { _ = try await zk.get(path) }, { _ = try await zk.create(path) },
                { _ = try await zk.set(path, data: []) }, { try await zk.delete(path) },
            ] as [() async throws -> Void] {
                // Whatever ZooKeeper answers (it refuses some characters, stores others): an
                // answer or a ZooKeeperError, within the operation time-out.
                let (result, elapsed) = await timed(call)
                #expect(result.failureIfAny == nil || result.failureIfAny is ZooKeeperError, "\(path.debugDescription): \(result)")
                #expect(elapsed < configuration.operationTimeout + timingSlack)
            }
            try? await zk.delete(path)
        }
        // Invalid UTF-8 is only data to ZooKeeper: it round-trips.
        let path = "/\(uniqueName("bytes"))"
        try await zk.create(path, data: [0xff, 0xfe, 0xed, 0xa0, 0x80])
        #expect(try await zk.get(path).data == [0xff, 0xfe, 0xed, 0xa0, 0x80])
        try await zk.delete(path)
        #expect(zk.sessionState == .connected, "the session survived the catalogue")
        await zk.close()
    }

    @Test("a server that speaks garbage or nothing: connect fails with .connectionLoss within connectTimeout")
    func brokenServers() async throws {
        let scenarios: [(String, RawServer.Scenario)] = [
            ("closes at once", { _, _ in ([], true) }),
            ("answers 0xff bytes and closes", { input, _ in input.isEmpty ? ([], false) : (Array(repeating: 0xff, count: 64), true) }),
            ("never answers", { _, _ in ([], false) }),
            ("a length prefix of 2 GiB, then nothing", { input, cursor in
                guard !input.isEmpty, cursor == 0 else { return ([], false) }
                cursor = 1
                return ([0x7f, 0xff, 0xff, 0xff, 0, 0], false)
            }),
        ]
        for (name, scenario) in scenarios {
            let server = try await RawServer.start(scenario)
            var configuration = ZooKeeperClient.Configuration(connectString: server.address)
            configuration.connectTimeout = .seconds(2)
            var quiet = configuration.logger
            quiet.logLevel = .critical
            configuration.logger = quiet
            let (result, elapsed) = await timed { try await ZooKeeperClient.connect(configuration) }
            if case .success(let zk) = result {
                Issue.record("connected to a server that \(name)")
                await zk.close()
            }
            let code = (result.failureIfAny as? ZooKeeperError)?.code
            #expect(code == .connectionLoss, "\(name): \(String(describing: result.failureIfAny))")
            // connect gives up at connectTimeout, then closes the C handle, which waits up to 1 s
            // for calls the C client still holds (the ZooKeeper catalog's "Sessions, read-only mode, lifetime").
            #expect(elapsed < configuration.connectTimeout + .seconds(1) + timingSlack, "\(name): took \(elapsed)")
            await server.stop()
        }
    }
}

@Suite("bad input: Consul client against a server that answers garbage", .timeLimit(.minutes(2)))
struct ConsulBadInputTests {
    static func http(_ status: String, headers: [String] = [], body: String, contentLength: Int? = nil) -> RawServer.Scenario {
        { input, cursor in
            // Answer once the request head is complete (the client sends no body for GET).
            guard cursor == 0, let end = input.firstRange(of: Array("\r\n\r\n".utf8)) else { return ([], false) }
            cursor = end.upperBound
            let length = contentLength ?? body.utf8.count
            var head = "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\n"
            for header in headers { head += header + "\r\n" }
            return (Array((head + "\r\n" + body).utf8), true)
        }
    }

    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var scenario: RawServer.Scenario
        /// The one code the call ends with.
        var expected: ConsulError.Code
    }

    static let cases: [Case] = [
        .init(description: "body shorter than Content-Length, then close",
              scenario: http("200 OK", headers: ["X-Consul-Index: 5"], body: #"[{"Key":"k","Val"#, contentLength: 200),
              expected: .unreachable),
        .init(description: "JSON with wrong types", scenario: http("200 OK", headers: ["X-Consul-Index: 5"],
              body: #"[{"Key":1,"Value":true,"ModifyIndex":"x","CreateIndex":[],"Flags":-1}]"#), expected: .badResponse),
        .init(description: "Value that is not base64", scenario: http("200 OK", headers: ["X-Consul-Index: 5"],
              body: #"[{"Key":"k","Value":"@@not base64@@","ModifyIndex":5,"CreateIndex":5,"LockIndex":0,"Flags":0}]"#),
              expected: .badResponse),
        .init(description: "not JSON at all", scenario: http("200 OK", headers: ["X-Consul-Index: 5"], body: "<html>hello</html>"),
              expected: .badResponse),
        .init(description: "invalid UTF-8 in the body", scenario: { input, cursor in
            guard cursor == 0, let end = input.firstRange(of: Array("\r\n\r\n".utf8)) else { return ([], false) }
            cursor = end.upperBound
            let body: [UInt8] = Array(#"[{"Key":""#.utf8) + [0xff, 0xfe] + Array(#"","Value":null,"ModifyIndex":1}]"#.utf8)
            return (Array("HTTP/1.1 200 OK\r\nX-Consul-Index: 1\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body, true)
        }, expected: .badResponse),
        .init(description: "not HTTP at all", scenario: { input, _ in
            input.isEmpty ? ([], false) : (Array("garbage garbage\r\n\r\n".utf8), true)
        }, expected: .unreachable),
        .init(description: "closes without answering", scenario: { input, _ in (([], !input.isEmpty)) },
              expected: .unreachable),
        .init(description: "a 500 with an HTML body", scenario: http("500 Internal Server Error", body: "<h1>oops</h1>"),
              expected: .serverError),
    ]

    @Test("kv.get against a broken Consul: the documented error, in bounded time, no crash", arguments: cases)
    func brokenConsul(_ broken: Case) async throws {
        let server = try await RawServer.start(broken.scenario)
        var configuration = ConsulClient.Configuration(address: "http://\(server.address)")
        configuration.timeouts = .init(connect: .seconds(5), request: .seconds(10))
        let client = ConsulClient(configuration)
        let (result, elapsed) = await timed { try await client.kv.get("k") }
        // The answer is immediate; the bound is the client's own limits (connect, then the request).
        #expect(elapsed < configuration.timeouts.connect + configuration.timeouts.request + timingSlack, "took \(elapsed)")
        let error = result.failureIfAny as? ConsulError
        #expect(error != nil, "\(broken): \(result)")
        if let error { #expect(error.code == broken.expected, "\(broken): \(error)") }
        try await client.shutdown()
        await server.stop()
    }
}
