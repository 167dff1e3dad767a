import CNGHTTP2
import StoreTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The C module links and works: nghttp2 produces the client connection preface,
/// the real etcd answers it with a SETTINGS frame, and nghttp2 parses that frame.
@Suite("CNGHTTP2 links against libnghttp2")
struct CNGHTTP2LinkTests {
    final class Received {
        var frameTypes: [UInt8] = []
        var settingsFromServer = 0
    }

    @Test("the HTTP/2 preface to etcd is answered with SETTINGS", .enabled(if: TestStores.shouldRun(TestStores.etcdEndpoints)))
    func prefaceAnsweredWithSettings() throws {
        let endpoint = try #require(try TestStores.require(TestStores.etcdEndpoints, "ETCD_ENDPOINTS").first)
        let (host, port) = try hostAndPort(endpoint)

        var callbacks: OpaquePointer?
        #expect(nghttp2_session_callbacks_new(&callbacks) == 0)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            let received = Unmanaged<Received>.fromOpaque(userData!).takeUnretainedValue()
            let type = frame!.pointee.hd.type
            received.frameTypes.append(type)
            if type == UInt8(NGHTTP2_SETTINGS.rawValue), frame!.pointee.hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 {
                received.settingsFromServer += 1
            }
            return 0
        }

        let received = Received()
        var session: OpaquePointer?
        #expect(nghttp2_session_client_new(&session, callbacks, Unmanaged.passUnretained(received).toOpaque()) == 0)
        defer { nghttp2_session_del(session) }
        #expect(nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil, 0) == 0)

        var outbound: [UInt8] = []
        while true {
            var chunk: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &chunk)
            #expect(n >= 0)
            if n <= 0 { break }
            outbound.append(contentsOf: UnsafeBufferPointer(start: chunk, count: n))
        }
        let magic = String(cString: cnghttp2_client_magic())
        #expect(outbound.starts(with: Array(magic.utf8)), "nghttp2 did not start with the connection preface")

        let fd = try connectTCP(host: host, port: port)
        defer { close(fd) }
        #expect(outbound.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == outbound.count)

        var buffer = [UInt8](repeating: 0, count: 16_384)
        let deadline = time(nil) + 10
        while received.settingsFromServer == 0 && time(nil) < deadline {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            let consumed = buffer.withUnsafeBufferPointer { nghttp2_session_mem_recv(session, $0.baseAddress, n) }
            #expect(consumed == n)
        }
        #expect(received.settingsFromServer == 1, "etcd at \(endpoint) sent frames \(received.frameTypes)")
    }

    private func hostAndPort(_ endpoint: String) throws -> (String, UInt16) {
        let withoutScheme = endpoint.split(separator: "/").last(where: { !$0.isEmpty && !$0.hasSuffix(":") }) ?? ""
        let parts = withoutScheme.split(separator: ":")
        let port = try #require(parts.count == 2 ? UInt16(parts[1]) : nil, "endpoint \(endpoint) has no port")
        return (String(parts[0]), port)
    }

    private func connectTCP(host: String, port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        #expect(inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 { close(fd) }
        try #require(rc == 0, "could not connect to etcd at \(host):\(port)")
        return fd
    }
}
