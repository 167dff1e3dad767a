@testable import Etcd
import StoreTestSupport
import Testing

@Suite("etcd endpoints and gRPC framing (no server)")
struct EtcdUnitTests {
    @Test("endpoint URLs parse, and malformed ones are rejected with what is wrong")
    func endpoints() throws {
        #expect(try EtcdEndpoint.parse("http://127.0.0.1:2379", defaultTLS: false) == EtcdEndpoint(host: "127.0.0.1", port: 2379, tls: false))
        #expect(try EtcdEndpoint.parse("etcds://etcd.example:2380", defaultTLS: false) == EtcdEndpoint(host: "etcd.example", port: 2380, tls: true))
        #expect(try EtcdEndpoint.parse("https://[::1]:2379/", defaultTLS: false) == EtcdEndpoint(host: "::1", port: 2379, tls: true))
        #expect(try EtcdEndpoint.parse("localhost", defaultTLS: true) == EtcdEndpoint(host: "localhost", port: 2379, tls: true))
        for bad in ["ftp://h:1", "http://:2379", "http://h:0", "http://h:99999", "http://h:12/path", "http://[::1:2379", "unix:///tmp/s"] {
            let error = #expect(throws: EtcdError.self) { _ = try EtcdEndpoint.parse(bad, defaultTLS: false) }
            #expect(error?.code == .invalidArgument, "\(bad)")
        }
    }

    @Test("gRPC messages are framed and reassembled across arbitrary chunk boundaries")
    func framing() {
        let messages: [[UInt8]] = [[], [1, 2, 3], [UInt8](repeating: 9, count: 70_000)]
        let stream = messages.flatMap(GRPCFraming.frame)
        for chunk in [1, 2, 5, 4096, stream.count] {
            var buffer: [UInt8] = []
            var offset = 0
            var received: [[UInt8]] = []
            var index = 0
            while index < stream.count {
                buffer.append(contentsOf: stream[index..<min(stream.count, index + chunk)])
                index += chunk
                while case .message(let m) = GRPCFraming.next(buffer, offset: &offset, maxMessageSize: 1 << 20) {
                    received.append(m)
                }
            }
            #expect(received == messages, "chunk \(chunk)")
        }
        var offset = 0
        #expect(GRPCFraming.next(GRPCFraming.frame([UInt8](repeating: 0, count: 100)), offset: &offset, maxMessageSize: 99) == .tooLarge(100))
    }

    @Test("grpc-timeout and grpc-message encodings")
    func headers() {
        #expect(GRPCFraming.timeoutHeader(.seconds(5)) == "5000m")
        #expect(GRPCFraming.timeoutHeader(.milliseconds(0)) == "1m")
        #expect(GRPCFraming.percentDecode("etcdserver:%20no%20leader") == "etcdserver: no leader")
    }

    @Test("prefix range ends")
    func prefixEnd() {
        #expect(EtcdRangeRequest.prefixEnd(Array("a/".utf8)) == Array("a0".utf8))
        #expect(EtcdRangeRequest.prefixEnd([0x61, 0xff]) == [0x62])
        #expect(EtcdRangeRequest.prefixEnd([0xff, 0xff]) == [0])
    }

    @Test("gRPC status codes map to EtcdError codes with etcd's message kept")
    func statusMapping() {
        let compacted = EtcdError.fromStatus(11, message: "etcdserver: mvcc: required revision has been compacted", endpoint: "http://e:1")
        #expect(compacted.code == .compacted)
        #expect(compacted.grpcStatus == 11)
        #expect(compacted.serverMessage == "etcdserver: mvcc: required revision has been compacted")
        #expect(compacted.message.contains("http://e:1"))
        #expect(EtcdError.fromStatus(14, message: "etcdserver: no leader", endpoint: "e").code == .unavailable)
        #expect(EtcdError.fromStatus(2, message: "context deadline exceeded", endpoint: "e").code == .deadlineExceeded)
        #expect(EtcdError.fromStatus(3, message: "etcdserver: authentication failed, invalid user ID or password", endpoint: "e").code == .unauthenticated)
        #expect(EtcdError.fromStatus(5, message: "etcdserver: requested lease not found", endpoint: "e").code == .notFound)
        #expect(EtcdError.fromStatus(7, message: "etcdserver: permission denied", endpoint: "e").code == .permissionDenied)
    }
}

@Suite("EtcdClient connecting", .enabled(if: EtcdTest.enabled))
struct EtcdConnectionTests {
    @Test("connecting to a port nobody listens on fails fast with .connectionFailed")
    func nobodyListening() async throws {
        var configuration = EtcdClient.Configuration(endpoints: ["http://127.0.0.1:1"])
        configuration.timeouts.connect = .seconds(2)
        let start = ContinuousClock.now
        let error = await #expect(throws: EtcdError.self) { _ = try await EtcdClient.connect(configuration) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("127.0.0.1:1") == true)
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test("a malformed endpoint is rejected by connect")
    func malformed() async throws {
        let error = await #expect(throws: EtcdError.self) {
            _ = try await EtcdClient.connect(.init(endpoints: ["http://127.0.0.1:notaport"]))
        }
        #expect(error?.code == .invalidArgument)
        let none = await #expect(throws: EtcdError.self) { _ = try await EtcdClient.connect(.init(endpoints: [])) }
        #expect(none?.code == .invalidArgument)
    }

    @Test("a dead endpoint first in the list is skipped")
    func skipDead() async throws {
        var configuration = try EtcdTest.configuration()
        configuration.endpoints = ["http://127.0.0.1:1"] + configuration.endpoints
        let etcd = try await EtcdClient.connect(configuration)
        let key = EtcdTest.prefix() + "k"
        try await etcd.put(key, value: [1])
        #expect(try await etcd.get(key)?.value == [1])
        #expect(etcd.currentEndpoint == (try EtcdTest.endpoints()).first)
        await etcd.close()
    }
}
