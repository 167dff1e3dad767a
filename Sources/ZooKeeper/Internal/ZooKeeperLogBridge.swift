import CZooKeeper
import Logging
import Synchronization

/// Routes the C library's log to swift-log.
///
/// The C log callback gets only the message — no handle or context — so the sink is process
/// wide: messages go to the logger of the most recently connected client still open.
enum ZooKeeperLogBridge {
    private static let sinks = Mutex<[(id: Int, logger: Logger)]>([])
    private static let nextID = Atomic<Int>(1)

    static func register(_ logger: Logger) -> Int {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        // The C level is global; make it as verbose as this logger wants.
        let level: ZooLogLevel = switch logger.logLevel {
        case .trace: ZOO_LOG_LEVEL_DEBUG
        case .debug: ZOO_LOG_LEVEL_INFO
        case .info, .notice: ZOO_LOG_LEVEL_WARN
        case .warning, .error, .critical: ZOO_LOG_LEVEL_ERROR
        }
        sinks.withLock { $0.append((id, logger)) }
        zoo_set_debug_level(level)
        return id
    }

    static func unregister(_ id: Int) {
        sinks.withLock { $0.removeAll { $0.id == id } }
    }

    static func log(_ message: UnsafePointer<CChar>?) {
        guard let message, let logger = sinks.withLock({ $0.last?.logger }) else { return }
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

/// The C log callback (a global function converts to a C function pointer).
func zooKeeperLogCallback(_ message: UnsafePointer<CChar>?) {
    ZooKeeperLogBridge.log(message)
}
