import AutoCluster
import NodeList
import StoreTestSupport

/// A real, in-process versioned key-value backend with the CAS semantics every store gives
/// (version bumps on each write, create-if-absent, compare-and-swap, change stream).
///
/// Used only by the tests of the store-independent algorithm (probing, sweep rules, retry
/// loop); behaviour of ZooKeeper, etcd and Consul is tested against the real stores.
/// `beforeSwap` lets a test commit a competing write between the read and the swap.
final class InProcessBackend: NodeListBackend {
    struct State {
        var values: [String: VersionedValue] = [:]
        var nextVersion: UInt64 = 1
        var watchers: [Int: (key: String, continuation: AsyncThrowingStream<VersionedValue?, any Error>.Continuation)] = [:]
        var nextWatcher = 0
        var swaps = 0
        var conflicts = 0
    }

    let state = TestMutex(State())
    let beforeSwap: (@Sendable (InProcessBackend, Int) -> Void)?

    init(beforeSwap: (@Sendable (InProcessBackend, Int) -> Void)? = nil) {
        self.beforeSwap = beforeSwap
    }

    var storeName: String { "in-process" }

    func read(key: String) async throws -> VersionedValue? {
        state.withLock { $0.values[key] }
    }

    /// Writes unconditionally (a competing writer, or a corrupt value planted by a test).
    @discardableResult
    func write(key: String, value: [UInt8]) -> UInt64 {
        let (version, watchers) = state.withLock { state in
            let version = state.nextVersion
            state.nextVersion += 1
            state.values[key] = VersionedValue(bytes: value, version: version)
            return (version, state.watchers.values.filter { $0.key == key }.map(\.continuation))
        }
        for watcher in watchers { watcher.yield(VersionedValue(bytes: value, version: version)) }
        return version
    }

    func createIfAbsent(key: String, value: [UInt8]) async throws -> CreateResult {
        if let existing = state.withLock({ $0.values[key] }) { return .exists(existing) }
        return .created(version: write(key: key, value: value))
    }

    func compareAndSwap(key: String, expected: UInt64, value: [UInt8]) async throws -> SwapResult {
        let attempt = state.withLock { state -> Int in
            state.swaps += 1
            return state.swaps
        }
        beforeSwap?(self, attempt)
        let current = state.withLock { $0.values[key] }
        guard let current, current.version == expected else {
            state.withLock { $0.conflicts += 1 }
            return .conflict(current: current)
        }
        return .swapped(version: write(key: key, value: value))
    }

    func changes(key: String) -> AsyncThrowingStream<VersionedValue?, any Error> {
        let (stream, continuation) = AsyncThrowingStream<VersionedValue?, any Error>.makeStream()
        let id = state.withLock { state -> Int in
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[id] = (key, continuation)
            continuation.yield(state.values[key])
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }
}
