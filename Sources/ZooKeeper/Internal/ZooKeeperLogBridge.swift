import CZooKeeper
import Logging


/// Routes the C library's log to swift-log.
///
/// The C log callback gets only the message — no handle or context — so each handle gets its own
/// C function from a fixed pool of trampolines, each bound to one slot holding that client's
/// logger. When every slot is taken (more than 128 clients open at once), further clients share a
/// fallback that logs to the most recently registered of them.
enum ZooKeeperLogBridge {
    private struct Sinks {
        var slots: [Logger?] = Array(repeating: nil, count: 128)
        var overflow: [(token: Int, logger: Logger)] = []
        var nextToken = 128
    }
    private static let sinks = Locked(Sinks())

    /// One C function per slot (closures without captures convert to C function pointers).
    private static let trampolines: [@convention(c) (UnsafePointer<CChar>?) -> Void] = [
        { ZooKeeperLogBridge.log(slot: 0, $0) },
        { ZooKeeperLogBridge.log(slot: 1, $0) },
        { ZooKeeperLogBridge.log(slot: 2, $0) },
        { ZooKeeperLogBridge.log(slot: 3, $0) },
        { ZooKeeperLogBridge.log(slot: 4, $0) },
        { ZooKeeperLogBridge.log(slot: 5, $0) },
        { ZooKeeperLogBridge.log(slot: 6, $0) },
        { ZooKeeperLogBridge.log(slot: 7, $0) },
        { ZooKeeperLogBridge.log(slot: 8, $0) },
        { ZooKeeperLogBridge.log(slot: 9, $0) },
        { ZooKeeperLogBridge.log(slot: 10, $0) },
        { ZooKeeperLogBridge.log(slot: 11, $0) },
        { ZooKeeperLogBridge.log(slot: 12, $0) },
        { ZooKeeperLogBridge.log(slot: 13, $0) },
        { ZooKeeperLogBridge.log(slot: 14, $0) },
        { ZooKeeperLogBridge.log(slot: 15, $0) },
        { ZooKeeperLogBridge.log(slot: 16, $0) },
        { ZooKeeperLogBridge.log(slot: 17, $0) },
        { ZooKeeperLogBridge.log(slot: 18, $0) },
        { ZooKeeperLogBridge.log(slot: 19, $0) },
        { ZooKeeperLogBridge.log(slot: 20, $0) },
        { ZooKeeperLogBridge.log(slot: 21, $0) },
        { ZooKeeperLogBridge.log(slot: 22, $0) },
        { ZooKeeperLogBridge.log(slot: 23, $0) },
        { ZooKeeperLogBridge.log(slot: 24, $0) },
        { ZooKeeperLogBridge.log(slot: 25, $0) },
        { ZooKeeperLogBridge.log(slot: 26, $0) },
        { ZooKeeperLogBridge.log(slot: 27, $0) },
        { ZooKeeperLogBridge.log(slot: 28, $0) },
        { ZooKeeperLogBridge.log(slot: 29, $0) },
        { ZooKeeperLogBridge.log(slot: 30, $0) },
        { ZooKeeperLogBridge.log(slot: 31, $0) },
        { ZooKeeperLogBridge.log(slot: 32, $0) },
        { ZooKeeperLogBridge.log(slot: 33, $0) },
        { ZooKeeperLogBridge.log(slot: 34, $0) },
        { ZooKeeperLogBridge.log(slot: 35, $0) },
        { ZooKeeperLogBridge.log(slot: 36, $0) },
        { ZooKeeperLogBridge.log(slot: 37, $0) },
        { ZooKeeperLogBridge.log(slot: 38, $0) },
        { ZooKeeperLogBridge.log(slot: 39, $0) },
        { ZooKeeperLogBridge.log(slot: 40, $0) },
        { ZooKeeperLogBridge.log(slot: 41, $0) },
        { ZooKeeperLogBridge.log(slot: 42, $0) },
        { ZooKeeperLogBridge.log(slot: 43, $0) },
        { ZooKeeperLogBridge.log(slot: 44, $0) },
        { ZooKeeperLogBridge.log(slot: 45, $0) },
        { ZooKeeperLogBridge.log(slot: 46, $0) },
        { ZooKeeperLogBridge.log(slot: 47, $0) },
        { ZooKeeperLogBridge.log(slot: 48, $0) },
        { ZooKeeperLogBridge.log(slot: 49, $0) },
        { ZooKeeperLogBridge.log(slot: 50, $0) },
        { ZooKeeperLogBridge.log(slot: 51, $0) },
        { ZooKeeperLogBridge.log(slot: 52, $0) },
        { ZooKeeperLogBridge.log(slot: 53, $0) },
        { ZooKeeperLogBridge.log(slot: 54, $0) },
        { ZooKeeperLogBridge.log(slot: 55, $0) },
        { ZooKeeperLogBridge.log(slot: 56, $0) },
        { ZooKeeperLogBridge.log(slot: 57, $0) },
        { ZooKeeperLogBridge.log(slot: 58, $0) },
        { ZooKeeperLogBridge.log(slot: 59, $0) },
        { ZooKeeperLogBridge.log(slot: 60, $0) },
        { ZooKeeperLogBridge.log(slot: 61, $0) },
        { ZooKeeperLogBridge.log(slot: 62, $0) },
        { ZooKeeperLogBridge.log(slot: 63, $0) },
        { ZooKeeperLogBridge.log(slot: 64, $0) },
        { ZooKeeperLogBridge.log(slot: 65, $0) },
        { ZooKeeperLogBridge.log(slot: 66, $0) },
        { ZooKeeperLogBridge.log(slot: 67, $0) },
        { ZooKeeperLogBridge.log(slot: 68, $0) },
        { ZooKeeperLogBridge.log(slot: 69, $0) },
        { ZooKeeperLogBridge.log(slot: 70, $0) },
        { ZooKeeperLogBridge.log(slot: 71, $0) },
        { ZooKeeperLogBridge.log(slot: 72, $0) },
        { ZooKeeperLogBridge.log(slot: 73, $0) },
        { ZooKeeperLogBridge.log(slot: 74, $0) },
        { ZooKeeperLogBridge.log(slot: 75, $0) },
        { ZooKeeperLogBridge.log(slot: 76, $0) },
        { ZooKeeperLogBridge.log(slot: 77, $0) },
        { ZooKeeperLogBridge.log(slot: 78, $0) },
        { ZooKeeperLogBridge.log(slot: 79, $0) },
        { ZooKeeperLogBridge.log(slot: 80, $0) },
        { ZooKeeperLogBridge.log(slot: 81, $0) },
        { ZooKeeperLogBridge.log(slot: 82, $0) },
        { ZooKeeperLogBridge.log(slot: 83, $0) },
        { ZooKeeperLogBridge.log(slot: 84, $0) },
        { ZooKeeperLogBridge.log(slot: 85, $0) },
        { ZooKeeperLogBridge.log(slot: 86, $0) },
        { ZooKeeperLogBridge.log(slot: 87, $0) },
        { ZooKeeperLogBridge.log(slot: 88, $0) },
        { ZooKeeperLogBridge.log(slot: 89, $0) },
        { ZooKeeperLogBridge.log(slot: 90, $0) },
        { ZooKeeperLogBridge.log(slot: 91, $0) },
        { ZooKeeperLogBridge.log(slot: 92, $0) },
        { ZooKeeperLogBridge.log(slot: 93, $0) },
        { ZooKeeperLogBridge.log(slot: 94, $0) },
        { ZooKeeperLogBridge.log(slot: 95, $0) },
        { ZooKeeperLogBridge.log(slot: 96, $0) },
        { ZooKeeperLogBridge.log(slot: 97, $0) },
        { ZooKeeperLogBridge.log(slot: 98, $0) },
        { ZooKeeperLogBridge.log(slot: 99, $0) },
        { ZooKeeperLogBridge.log(slot: 100, $0) },
        { ZooKeeperLogBridge.log(slot: 101, $0) },
        { ZooKeeperLogBridge.log(slot: 102, $0) },
        { ZooKeeperLogBridge.log(slot: 103, $0) },
        { ZooKeeperLogBridge.log(slot: 104, $0) },
        { ZooKeeperLogBridge.log(slot: 105, $0) },
        { ZooKeeperLogBridge.log(slot: 106, $0) },
        { ZooKeeperLogBridge.log(slot: 107, $0) },
        { ZooKeeperLogBridge.log(slot: 108, $0) },
        { ZooKeeperLogBridge.log(slot: 109, $0) },
        { ZooKeeperLogBridge.log(slot: 110, $0) },
        { ZooKeeperLogBridge.log(slot: 111, $0) },
        { ZooKeeperLogBridge.log(slot: 112, $0) },
        { ZooKeeperLogBridge.log(slot: 113, $0) },
        { ZooKeeperLogBridge.log(slot: 114, $0) },
        { ZooKeeperLogBridge.log(slot: 115, $0) },
        { ZooKeeperLogBridge.log(slot: 116, $0) },
        { ZooKeeperLogBridge.log(slot: 117, $0) },
        { ZooKeeperLogBridge.log(slot: 118, $0) },
        { ZooKeeperLogBridge.log(slot: 119, $0) },
        { ZooKeeperLogBridge.log(slot: 120, $0) },
        { ZooKeeperLogBridge.log(slot: 121, $0) },
        { ZooKeeperLogBridge.log(slot: 122, $0) },
        { ZooKeeperLogBridge.log(slot: 123, $0) },
        { ZooKeeperLogBridge.log(slot: 124, $0) },
        { ZooKeeperLogBridge.log(slot: 125, $0) },
        { ZooKeeperLogBridge.log(slot: 126, $0) },
        { ZooKeeperLogBridge.log(slot: 127, $0) },
    ]

    /// Registers `logger`; returns a token for ``unregister(_:)`` and the C callback to pass to
    /// `zookeeper_init2`.
    static func register(_ logger: Logger) -> (token: Int, callback: @convention(c) (UnsafePointer<CChar>?) -> Void) {
        let registration: (token: Int, callback: @convention(c) (UnsafePointer<CChar>?) -> Void) = sinks.withLock { s in
            if let free = s.slots.firstIndex(where: { $0 == nil }) {
                s.slots[free] = logger
                return (free, trampolines[free])
            }
            let token = s.nextToken
            s.nextToken += 1
            s.overflow.append((token, logger))
            return (token, { ZooKeeperLogBridge.log(slot: nil, $0) })
        }
        updateLevel()
        return registration
    }

    static func unregister(_ token: Int) {
        sinks.withLock { s in
            if token < s.slots.count { s.slots[token] = nil } else { s.overflow.removeAll { $0.token == token } }
        }
        updateLevel()
    }

    /// The C level is process wide: as verbose as the most verbose registered logger wants.
    /// Set under the lock, so concurrent registrations cannot leave a stale level behind.
    private static func updateLevel() {
        sinks.withLock { s in
            let levels = s.slots.compactMap { $0?.logLevel } + s.overflow.map(\.logger.logLevel)
            guard let lowest = levels.min() else { return }
            let level: ZooLogLevel = switch lowest {
            case .trace: ZOO_LOG_LEVEL_DEBUG
            case .debug: ZOO_LOG_LEVEL_INFO
            case .info, .notice: ZOO_LOG_LEVEL_WARN
            case .warning, .error, .critical: ZOO_LOG_LEVEL_ERROR
            }
            zoo_set_debug_level(level)
        }
    }

    static func log(slot: Int?, _ message: UnsafePointer<CChar>?) {
        guard let message else { return }
        let logger: Logger? = sinks.withLock { s in
            if let slot { return s.slots[slot] }
            return s.overflow.last?.logger
        }
        guard let logger else { return }
        let text = String(cString: message)
        // "2026-11-23 09:37:25,123:1234(0x7f…):ZOO_ERROR@handle_socket_error_msg@1781: Socket …"
        let level: Logger.Level
        if text.contains("ZOO_ERROR@") { level = .warning }
        else if text.contains("ZOO_WARN@") { level = .notice }
        else if text.contains("ZOO_INFO@") { level = .debug }
        else { level = .trace }
        var trimmed = Substring(text)
        if let marker = text.range(of: ":ZOO_") { trimmed = text[text.index(after: marker.lowerBound)...] }
        logger.log(level: level, "\(trimmed)", metadata: ["source": "libzookeeper"])
    }
}
