import Etcd
import Foundation
import StoreTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A loopback port that accepts TCP connections (the kernel completes them into the listen
/// backlog) but never reads or answers: an endpoint that black-holes every call.
final class BlackHole: @unchecked Sendable {
    // Set once in init, closed once in `close()` by the test's own task.
    private var fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = fd >= 0 && withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            if fd >= 0 { _ = Glibc.close(fd) }
            throw EtcdError(code: .internal, message: "could not open a listening socket")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }
}

@Suite("EtcdClient overall call deadline", .serialized, .enabled(if: EtcdTest.enabled))
struct EtcdDeadlineTests {
    @Test("with every endpoint black-holing (a frozen member, a socket that never answers) a read ends within Timeouts.overall, or an EtcdClient.withDeadline, with .deadlineExceeded")
    func overallDeadline() async throws {
        let server = try await PrivateEtcd(count: 1, basePort: 29486)
        defer { server.stop() }
        let hole = try BlackHole()
        defer { hole.close() }
        var configuration = EtcdClient.Configuration(endpoints: server.endpoints + [hole.endpoint])
        configuration.timeouts = .init(connect: .seconds(2), request: .seconds(2), overall: .seconds(3))
        configuration.retry = .init(maxAttempts: 10, initialBackoff: .milliseconds(50), maxBackoff: .milliseconds(200))
        let etcd = try await EtcdClient.connect(configuration)
        defer { Task { await etcd.close() } }
        try await etcd.put("d/k", value: [1])
        #expect(etcd.currentEndpoint == server.endpoints[0])

        server.freeze(0)
        defer { server.freeze(0, false) }
        // Attempt 1 times out on the frozen member (2 s), attempt 2 is still connecting to the
        // black hole when the 3 s are up; 10 attempts would otherwise take ~40 s.
        var start = ContinuousClock.now
        let read = await #expect(throws: EtcdError.self) { _ = try await etcd.get("d/k") }
        var took = ContinuousClock.now - start
        #expect(read?.code == .deadlineExceeded, "\(String(describing: read))")
        #expect(read?.message.contains("Configuration.timeouts.overall") == true, "\(String(describing: read))")
        #expect(took >= .milliseconds(2900) && took < .milliseconds(4500), "\(took)")

        // A tighter deadline for one task's calls wins over the configured one.
        start = ContinuousClock.now
        let bounded = await #expect(throws: EtcdError.self) {
            _ = try await EtcdClient.withDeadline(.now + .seconds(1)) { try await etcd.get("d/k") }
        }
        took = ContinuousClock.now - start
        #expect(bounded?.code == .deadlineExceeded, "\(String(describing: bounded))")
        #expect(took >= .milliseconds(900) && took < .milliseconds(2500), "\(took)")

        // A write is bounded the same way.
        start = ContinuousClock.now
        let write = await #expect(throws: EtcdError.self) { try await etcd.put("d/k", value: [2]) }
        took = ContinuousClock.now - start
        #expect(write?.code == .deadlineExceeded, "\(String(describing: write))")
        #expect(took < .milliseconds(4500), "\(took)")

        // Once the member answers again, so do calls.
        server.freeze(0, false)
        let value = try await EtcdClient.withDeadline(.now + .seconds(20)) { try await etcd.get("d/k")?.value }
        #expect(value == [1] || value == [2])
    }
}
