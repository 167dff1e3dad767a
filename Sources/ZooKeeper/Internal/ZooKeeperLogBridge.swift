import CZooKeeper
import Logging
import NIOConcurrencyHelpers


/// Routes the C library's log to swift-log.
///
/// The C log callback gets only the message — no handle or context — so each C handle gets its
/// own C function from a fixed pool of ``slotCount`` trampolines
/// (`ZooKeeperCallbacks.logTrampolines`), each bound to one slot holding that handle's logger.
/// A handle holds its slot from before `zookeeper_init2` until `zookeeper_close` has returned
/// (`ZooKeeperHandle`), so a slot is never reused while the C library can still log through it.
/// When every slot is taken (more than ``slotCount`` handles open at once), further handles log
/// to one shared logger labelled ``sharedLabel`` — never to another client's logger — and each
/// says so once on its own logger when it opens.
enum ZooKeeperLogBridge {
    static let slotCount = 128
    static let sharedLabel = "autocluster.zookeeper.libzookeeper"

    /// A registration, to ``unregister(_:)`` after `zookeeper_close`.
    struct Token: Sendable, Hashable {
        fileprivate let value: Int
    }

    private struct Sinks {
        var slots: [Logger?] = Array(repeating: nil, count: ZooKeeperLogBridge.slotCount)
        /// The loggers of the handles without a slot: they count for the C log level only.
        var shared: [Int: Logger] = [:]
        var nextToken = ZooKeeperLogBridge.slotCount
        /// Per slot: the reason of the last socket error the C client logged ("connection refused").
        var lastSocketError: [String?] = Array(repeating: nil, count: ZooKeeperLogBridge.slotCount)
    }
    private static let sinks = NIOLockedValueBox(Sinks())
    private static let sharedLogger = Logger(label: sharedLabel)

    /// Registers `logger`; returns the C callback to pass to `zookeeper_init2`, and whether it
    /// is the handle's own (false: the shared one).
    static func register(_ logger: Logger) -> (token: Token, callback: @convention(c) (UnsafePointer<CChar>?) -> Void, ownSlot: Bool) {
        sinks.withLockedValue { s in
            defer { updateLevel(s) }
            if let free = s.slots.firstIndex(where: { $0 == nil }) {
                s.slots[free] = logger
                return (Token(value: free), ZooKeeperCallbacks.logTrampolines[free], true)
            }
            let token = s.nextToken
            s.nextToken += 1
            s.shared[token] = logger
            return (Token(value: token), ZooKeeperCallbacks.sharedLogTrampoline, false)
        }
    }

    static func unregister(_ token: Token) {
        sinks.withLockedValue { s in
            if token.value < s.slots.count {
                s.slots[token.value] = nil
                s.lastSocketError[token.value] = nil
            } else {
                s.shared[token.value] = nil
            }
            updateLevel(s)
        }
    }

    /// The C level is process wide: as verbose as the most verbose registered logger wants.
    /// Set under the lock, so concurrent registrations cannot leave a stale level behind.
    private static func updateLevel(_ s: Sinks) {
        let levels = s.slots.compactMap { $0?.logLevel } + s.shared.values.map(\.logLevel)
        guard let lowest = levels.min() else { return }
        let level: ZooLogLevel = switch lowest {
        case .trace: ZOO_LOG_LEVEL_DEBUG
        case .debug: ZOO_LOG_LEVEL_INFO
        case .info, .notice: ZOO_LOG_LEVEL_WARN
        case .warning, .error, .critical: ZOO_LOG_LEVEL_ERROR
        }
        zoo_set_debug_level(level)
    }

    /// The reason of the last socket error the C client logged for `token`'s handle, lowercased
    /// ("connection refused"); nil when there was none, or the handle has no slot of its own.
    static func lastSocketError(_ token: Token) -> String? {
        sinks.withLockedValue { token.value < $0.lastSocketError.count ? $0.lastSocketError[token.value] : nil }
    }

    /// "connection refused" from "Socket [127.0.0.1:2181] zk retcode=-4, errno=111(Connection refused): …".
    static func socketErrorReason(_ text: String) -> String? {
        guard let errno = text.range(of: "errno=") else { return nil }
        let rest = text[errno.upperBound...]
        guard let open = rest.firstIndex(of: "("), let close = rest[open...].firstIndex(of: ")"),
              rest[..<open].allSatisfy(\.isNumber) else { return nil }
        let reason = rest[rest.index(after: open)..<close]
        return reason.isEmpty ? nil : reason.lowercased()
    }

    /// A C log line of the handle in `slot` (nil: a handle without a slot).
    static func log(slot: Int?, _ message: UnsafePointer<CChar>?) {
        guard let message else { return }
        let text = String(cString: message)
        let socketError = socketErrorReason(text)
        let logger: Logger?
        if let slot {
            logger = sinks.withLockedValue { s in
                if let socketError { s.lastSocketError[slot] = socketError }
                return s.slots[slot]
            }
        } else {
            logger = sharedLogger
        }
        guard let logger else { return }
        // "2026-11-23 09:37:25,123:1234(0x7f…):ZOO_ERROR@handle_socket_error_msg@1781: Socket …"
        let level: Logger.Level
        if text.contains("ZOO_ERROR@") { level = .warning }
        else if text.contains("ZOO_WARN@") { level = .notice }
        else if text.contains("ZOO_INFO@") { level = .debug }
        else { level = .trace }
        var trimmed = Substring(text)
        if let marker = text.range(of: ":ZOO_") { trimmed = text[text.index(after: marker.lowerBound)...] }
        logger.log(level: level, "\(trimmed)", metadata: ["zookeeper.source": "libzookeeper"])
    }
}
