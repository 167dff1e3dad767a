@testable import Etcd
import Foundation
import StoreTestSupport
import Testing

@Suite("EtcdClient.taskExecutor against a real etcd", .enabled(if: EtcdTest.enabled))
struct EtcdTaskExecutorTests {
    /// A task that prefers the client's executor runs on the connections' loop before and after
    /// every call (each starts inline and resumes there), sequentially and with 64 in flight;
    /// every write is there afterwards.
    @available(macOS 15.0, *)
    @Test("calls from a task that prefers taskExecutor start and resume on the connection's event loop")
    func callsOnTheLoop() async throws {
        try await EtcdTest.withClient { etcd in
            let p = EtcdTest.prefix()
            let loop = etcd.transport.eventLoop
            let offLoop = try await withTaskExecutorPreference(etcd.taskExecutor) { () -> Int in
                var offLoop = loop.inEventLoop ? 0 : 1
                for i in 0..<50 {
                    _ = try await etcd.put(p + "a\(i)", value: [UInt8(i)])
                    if !loop.inEventLoop { offLoop += 1 }
                    _ = try await etcd.get(p + "a\(i)")
                    if !loop.inEventLoop { offLoop += 1 }
                }
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for i in 0..<64 {
                        group.addTask {
                            _ = try await etcd.put(p + "b\(i)", value: [UInt8(i)])
                            return loop.inEventLoop
                        }
                    }
                    for try await onLoop in group where !onLoop { offLoop += 1 }
                }
                return offLoop
            }
            #expect(offLoop == 0, "\(offLoop) of 165 checks found the task off the connection's loop")
            #expect(try await etcd.range(prefix: p).kvs.count == 114)
            // Without the preference the task is not on the loop (the default executor).
            _ = try await etcd.get(p + "a0")
            #expect(!loop.inEventLoop)
        }
    }

    /// A call that fails at once (the client is closed) resumes the task on the loop with the
    /// error.
    @available(macOS 15.0, *)
    @Test("a call that fails inline (client closed) throws .closed to a task on the loop")
    func failureInline() async throws {
        let etcd = try await EtcdClient.connect(EtcdTest.configuration())
        await etcd.close()
        let loop = etcd.transport.eventLoop
        let (code, onLoop) = await withTaskExecutorPreference(etcd.taskExecutor) { () -> (EtcdError.Code?, Bool) in
            do {
                _ = try await etcd.get("/autocluster-tests/etcd/closed")
                return (nil, loop.inEventLoop)
            } catch let error as EtcdError {
                return (error.code, loop.inEventLoop)
            } catch {
                return (nil, loop.inEventLoop)
            }
        }
        #expect(code == .closed)
        #expect(onLoop)
    }
}
