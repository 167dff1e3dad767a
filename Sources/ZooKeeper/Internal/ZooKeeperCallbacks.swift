import CZooKeeper


/// Every function the C client calls: the session watcher, the watch watcher, the completions
/// of the `zoo_a*` calls, and the log trampolines. They run on the C client's threads (its
/// completion thread; the log ones on any of its threads): each only copies what the C client
/// passes (it owns those buffers) and hands it on — to a connection's state lock, an
/// `OperationBox`, or a logger. None blocks, none calls back into the C client.
enum ZooKeeperCallbacks {
    // MARK: Watchers

    /// The global watcher of every handle: session state changes. Its context is the handle's
    /// retained `HandleContext`, valid until `zookeeper_close` has returned.
    static let globalWatcher: watcher_fn = { zh, type, state, _, context in
        guard type == czk_session_event(), let context else { return }
        let handleContext = Unmanaged<HandleContext>.fromOpaque(context).takeUnretainedValue()
        handleContext.delivered(state: state)
        // The C client takes any 40 bytes after the length prefix as the server's handshake answer.
        // A real server never negotiates a session timeout ≤ 0: such a "session" came from something
        // that is not ZooKeeper (or a corrupted answer), so it is not reported as connected.
        if state == czk_connected_state() || state == czk_readonly_state(), let zh, zoo_recv_timeout(zh) <= 0 {
            return
        }
        handleContext.connection.sessionEvent(state: state, generation: handleContext.generation)
    }

    /// The watcher of one watch registration: its context is the subscription id (not a pointer);
    /// the connection is found through the handle's context.
    static let watchWatcher: watcher_fn = { zh, type, _, _, context in
        // Session events are copied to every watcher; the global watcher handles them.
        guard type != czk_session_event(), let zh, let handleContext = zoo_get_context(zh) else { return }
        let connection = Unmanaged<HandleContext>.fromOpaque(handleContext).takeUnretainedValue().connection
        connection.watchFired(id: Int(bitPattern: context))
    }

    // MARK: Completions
    // Each takes back the box retained for the call (`OperationBox.take`) and resumes it once.

    static let created: string_stat_completion_t = { rc, created, stat, data in
        let box = OperationBox<(String, ZooKeeperStat)>.take(data)
        if rc == ZOK.rawValue, let created, let stat {
            box.succeed((String(cString: created), ZooKeeperStat(stat.pointee)))
        } else {
            box.fail(returnCode: rc)
        }
    }

    static let data: data_completion_t = { rc, value, length, stat, data in
        let box = OperationBox<([UInt8], ZooKeeperStat)>.take(data)
        if rc == ZOK.rawValue, let stat {
            var bytes: [UInt8] = []
            if let value, length > 0 {
                bytes = Array(UnsafeRawBufferPointer(start: value, count: Int(length)))
            }
            box.succeed((bytes, ZooKeeperStat(stat.pointee)))
        } else {
            box.fail(returnCode: rc)
        }
    }

    static let stat: stat_completion_t = { rc, stat, data in
        let box = OperationBox<ZooKeeperStat>.take(data)
        if rc == ZOK.rawValue, let stat { box.succeed(ZooKeeperStat(stat.pointee)) } else { box.fail(returnCode: rc) }
    }

    /// `exists`: a missing node is an answer, not an error.
    static let exists: stat_completion_t = { rc, stat, data in
        let box = OperationBox<ZooKeeperStat?>.take(data)
        if rc == ZOK.rawValue, let stat { box.succeed(ZooKeeperStat(stat.pointee)) }
        else if rc == ZNONODE.rawValue { box.succeed(nil) }
        else { box.fail(returnCode: rc) }
    }

    static let children: strings_stat_completion_t = { rc, strings, stat, data in
        let box = OperationBox<([String], ZooKeeperStat)>.take(data)
        if rc == ZOK.rawValue, let stat {
            var names: [String] = []
            if let strings, let items = strings.pointee.data {
                names = (0..<Int(strings.pointee.count)).compactMap { items[$0].map { String(cString: $0) } }
            }
            box.succeed((names, ZooKeeperStat(stat.pointee)))
        } else {
            box.fail(returnCode: rc)
        }
    }

    /// Calls whose answer is only the result code (delete, setACL, addAuth).
    static let void: void_completion_t = { rc, data in
        let box = OperationBox<Bool>.take(data)
        if rc == ZOK.rawValue { box.succeed(true) } else { box.fail(returnCode: rc) }
    }

    static let synced: string_completion_t = { rc, _, data in
        let box = OperationBox<Bool>.take(data)
        if rc == ZOK.rawValue { box.succeed(true) } else { box.fail(returnCode: rc) }
    }

    static let acl: acl_completion_t = { rc, acl, stat, data in
        let box = OperationBox<([ZooKeeperACL.Entry], ZooKeeperStat)>.take(data)
        if rc == ZOK.rawValue, let stat {
            var entries: [ZooKeeperACL.Entry] = []
            if let acl, let items = acl.pointee.data {
                entries = (0..<Int(acl.pointee.count)).map { ZooKeeperACL.Entry(items[$0]) }
            }
            box.succeed((entries, ZooKeeperStat(stat.pointee)))
        } else {
            box.fail(returnCode: rc)
        }
    }

    /// `zoo_amulti`: the results are in the call's `MultiStorage`, kept alive by the box.
    static let multi: void_completion_t = { rc, data in
        let box = OperationBox<[ZooKeeperOperationResult]>.take(data)
        let storage = box.keepAlive as! MultiStorage
        if rc == ZOK.rawValue {
            box.succeed(storage.successResults())
        } else {
            box.fail(storage.failure(rc))
        }
    }

    // MARK: Log

    /// The log function of the handles that found no free slot.
    static let sharedLogTrampoline: @convention(c) (UnsafePointer<CChar>?) -> Void = { ZooKeeperLogBridge.log(slot: nil, $0) }

    /// One C log function per slot of ``ZooKeeperLogBridge`` (closures without captures convert
    /// to C function pointers).
    static let logTrampolines: [@convention(c) (UnsafePointer<CChar>?) -> Void] = [
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
}
