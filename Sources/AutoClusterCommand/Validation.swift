import ArgumentParser
import Logging
import AutoCluster

// Checks of every argument that can be checked before the store is contacted. ArgumentParser
// calls these `validate()` methods after parsing (option groups included); a failure is a usage
// error: one line on stderr and exit status 64 (see `AutoClusterCommand.main`).

/// The longest node name, incarnation or address host, in UTF-8 bytes (a DNS name's limit is 253).
let maximumNameBytes = 255

extension StoreOptions {
    func validate() throws {
        do {
            _ = try storeURL()
        } catch let error as NodeListError {
            throw ValidationError(error.message)
        }
        try checkKey(key)
    }
}

extension NodeOptions {
    func validate() throws {
        try checkName(name, flag: "--name")
        try checkAddress(address)
        if let incarnation { try checkName(incarnation, flag: "--incarnation") }
        _ = try node()
    }
}

extension ProbeOptions {
    func validate() throws {
        let timeout = try parseDuration(probeTimeout, flag: "--probe-timeout")
        guard timeout > .zero else { throw ValidationError("--probe-timeout must be more than 0 (e.g. 500ms)") }
        _ = try parseDuration(sweepGrace, flag: "--sweep-grace")
        guard probeAttempts >= 1 else { throw ValidationError("--probe-attempts \(probeAttempts) must be at least 1") }
        guard probeConcurrency >= 1 else {
            throw ValidationError("--probe-concurrency \(probeConcurrency) must be at least 1")
        }
        guard maxNodes >= 1 else { throw ValidationError("--max-nodes \(maxNodes) must be at least 1 (the joining node itself)") }
    }
}

extension Leave {
    func validate() throws {
        try checkName(name, flag: "--name")
        if let incarnation { try checkName(incarnation, flag: "--incarnation") }
    }
}

extension Run {
    func validate() throws {
        let interval = try parseDuration(refresh, flag: "--refresh")
        guard interval > .zero else { throw ValidationError("--refresh must be more than 0 (e.g. 5s)") }
        guard quorum >= 1 else { throw ValidationError("--quorum \(quorum) must be at least 1") }
    }
}

/// `/a/b`: absolute, no empty, `.` or `..` component, no trailing `/`, no control character —
/// the rules of a ZooKeeper path, so the same key works on every store.
func checkKey(_ key: String) throws {
    func reject(_ why: String) -> ValidationError {
        ValidationError("--key \(shown(key)) \(why) — use a path like /autocluster/my-service")
    }
    guard key.hasPrefix("/") else { throw reject("is not absolute (it must start with \"/\")") }
    guard key != "/" else { throw reject("is the root") }
    guard !key.hasSuffix("/") else { throw reject("ends with \"/\"") }
    guard !key.unicodeScalars.contains(where: isControl) else { throw reject("contains a control character") }
    for component in key.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
        guard !component.isEmpty else { throw reject("has an empty component (\"//\")") }
        guard component != "." && component != ".." else { throw reject("has a \"\(component)\" component") }
    }
}

/// A node name or incarnation: 1…255 UTF-8 bytes, no control characters.
func checkName(_ value: String, flag: String) throws {
    guard !value.isEmpty else { throw ValidationError("\(flag) is empty — give a non-empty value") }
    guard value.utf8.count <= maximumNameBytes else {
        throw ValidationError("\(flag) is \(value.utf8.count) bytes long, over the limit of \(maximumNameBytes) — use a shorter one")
    }
    guard !value.unicodeScalars.contains(where: isControl) else {
        throw ValidationError("\(flag) \(shown(value)) contains a control character — use printable characters only")
    }
}

/// `HOST:PORT` (`[v6]:PORT`), port 1…65535, a host of at most 255 bytes without spaces.
func checkAddress(_ address: String) throws {
    func reject(_ why: String) -> ValidationError {
        ValidationError("--address \(shown(address)) \(why) — give HOST:PORT, e.g. 10.0.0.5:7001 or [::1]:7001")
    }
    guard !address.isEmpty else { throw reject("is empty") }
    guard address.utf8.count <= maximumNameBytes + 8 else { throw reject("is \(address.utf8.count) bytes long") }
    guard !address.unicodeScalars.contains(where: isControlOrSpace) else { throw reject("contains a space or a control character") }
    guard ClusterNode(name: "x", address: address, incarnation: "x").hostAndPort != nil else {
        throw reject(address.contains(":") ? "has no valid port (1…65535) or no host" : "has no port")
    }
}

func isControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value)
}

func isControlOrSpace(_ scalar: Unicode.Scalar) -> Bool {
    isControl(scalar) || scalar.properties.isWhitespace
}

/// A user-given value quoted for an error line: control characters escaped, at most 80 characters.
func shown(_ value: String) -> String {
    var out = ""
    var count = 0
    for scalar in value.unicodeScalars {
        if count == 80 {
            out += "…"
            break
        }
        out += isControl(scalar) ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        count += 1
    }
    return "\"\(out)\""
}
