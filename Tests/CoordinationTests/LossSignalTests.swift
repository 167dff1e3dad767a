import AutoCluster
@testable import Coordination
import Consul
import StoreTestSupport
import Testing

/// The one-shot loss/release state every contender shares with its holder (no server).
@Suite("LossSignal and defaults")
struct LossSignalTests {
    @Test("the first outcome wins; every listener, early or late, sees exactly it")
    func firstOutcomeWins() async {
        let signal = LossSignal()
        let early = signal.events()
        let waiting = Task { await signal.wait() }
        var cleanups = 0
        let counter = TestCounter()
        signal.setOnLoss { counter.increment() }
        #expect(signal.fire(.keyDeleted))
        #expect(!signal.fire(.sessionEnded), "a second loss must not replace the first")
        #expect(!signal.release(), "a release after a loss must not replace it")
        #expect(signal.lossReason == .keyDeleted)
        #expect(await waiting.value == .lost(.keyDeleted))
        var iterator = early.makeAsyncIterator()
        #expect(await iterator.next() == .lost(.keyDeleted))
        #expect(await iterator.next() == nil)
        var late = signal.events().makeAsyncIterator()
        #expect(await late.next() == .lost(.keyDeleted))
        cleanups = counter.value
        #expect(cleanups == 1, "the clean-up runs once, on the loss")
    }

    @Test("a release is reported as released and runs no loss clean-up")
    func release() async {
        let signal = LossSignal()
        let counter = TestCounter()
        signal.setOnLoss { counter.increment() }
        #expect(signal.release())
        #expect(!signal.fire(.sessionEnded))
        #expect(signal.lossReason == nil)
        #expect(await signal.wait() == .released)
        #expect(counter.value == 0)
    }

    @Test("a cancelled wait returns nil and leaves the signal undecided")
    func cancelledWait() async {
        let signal = LossSignal()
        let waiting = Task { await signal.wait() }
        waiting.cancel()
        #expect(await waiting.value == nil)
        #expect(signal.outcome == nil)
    }

    @Test("defaults: Consul's 15 s lock-delay, a 15 s TTL, loss on a ZooKeeper disconnect")
    func defaults() {
        let configuration = CoordinationStore.Configuration()
        #expect(configuration.consulLockDelay == .seconds(15))
        #expect(configuration.ttl == .seconds(15))
        #expect(configuration.zooKeeperLossOnDisconnect)
        #expect(ConsulLock(client: ConsulClient(.init(address: "http://127.0.0.1:1")), key: "k").lockDelay == .seconds(15))
    }
}

/// A counter closures can bump from any thread.
final class TestCounter: Sendable {
    private let count = TestMutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
