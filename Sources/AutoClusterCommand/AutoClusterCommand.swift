import ArgumentParser
import AutoCluster

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct AutoClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autocluster",
        abstract: "Form and keep a cluster through ZooKeeper, etcd or Consul.",
        discussion: """
            STORE: --store URL: zookeeper://h1:2181,h2:2181/chroot, etcd://h1:2379 (etcds:// for TLS), \
            consul://127.0.0.1:8500 (consuls://). Without --store: $AUTOCLUSTER_STORE, else the store's \
            own variable — $ETCDCTL_ENDPOINTS (http://, https:// or bare HOST:PORT endpoints, comma-separated; \
            bare ones use TLS when an $ETCDCTL_ TLS file is set, as etcdctl does), \
            $CONSUL_HTTP_ADDR (with $CONSUL_HTTP_SSL) or $ZOOKEEPER_CONNECT (HOST:PORT[,…][/chroot]); \
            when more than one of these three is set, --store or $AUTOCLUSTER_STORE must choose. \
            Credentials and TLS files: a flag wins over the URL, the URL over the environment \
            ($ETCDCTL_USER, $ETCDCTL_PASSWORD, $ETCDCTL_CACERT, $ETCDCTL_CERT, $ETCDCTL_KEY; \
            $CONSUL_HTTP_TOKEN, $CONSUL_HTTP_TOKEN_FILE, $CONSUL_CACERT, $CONSUL_CLIENT_CERT, \
            $CONSUL_CLIENT_KEY, $CONSUL_TLS_SERVER_NAME; the TLS ones only for etcds:// and consuls://). \
            Secrets are never printed.

            OUTPUT: --output table (default) or json (Codable objects, keys sorted, one per line).

            \(ExitStatus.helpText)
            """,
        version: AutoClusterVersion.current,
        subcommands: [
            Join.self, Leave.self, List.self, Sweep.self, Watch.self, Run.self, Lock.self, Elect.self, Health.self,
        ]
    )
}

extension AutoClusterCommand {
    /// ArgumentParser's `main`, except that every failure is ONE line on stderr:
    /// `autocluster: error: WHAT — WHAT TO DO`. Exit status 64 (EX_USAGE) for arguments that are
    /// wrong (unknown flags, malformed values, invalid UTF-8), the others of ``ExitStatus`` when
    /// the store or the operation failed; `--help` and `--version` print as usual.
    static func main() async {
        if let problem = invalidUTF8Argument() {
            exitWithError(problem, status: .validationFailure)
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            exit(withError: code)  // the subcommand already reported (runReportingErrors)
        } catch {
            let status = exitCode(for: error)
            if status == .success { exit(withError: error) }  // --help, --version
            // ArgumentParser's text is "Error: …" plus help and usage lines: keep the first line.
            var first = message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
            if first.hasPrefix("Error: ") { first.removeFirst("Error: ".count) }
            let subcommand = CommandLine.arguments.dropFirst().first { !$0.hasPrefix("-") }
                .flatMap { name in configuration.subcommands.first { $0._commandName == name }?._commandName }
            // A message that already says what to do (after " — ") needs no pointer to the help.
            exitWithError(first.contains(" — ") ? first : "\(first) — see 'autocluster \(subcommand.map { $0 + " " } ?? "")--help'",
                          status: status)
        }
    }

    /// The first argument (or `$AUTOCLUSTER_STORE`) that is not valid UTF-8, described.
    /// Swift would otherwise turn such bytes into U+FFFD and store a name nobody typed.
    static func invalidUTF8Argument() -> String? {
        for i in 1..<Int(CommandLine.argc) {
            guard let pointer = CommandLine.unsafeArgv[i] else { continue }
            let bytes = UnsafeBufferPointer(start: pointer, count: strlen(pointer)).map { UInt8(bitPattern: $0) }
            if String(validating: bytes, as: UTF8.self) == nil {
                let flag = i > 1 ? CommandLine.unsafeArgv[i - 1].flatMap { String(validatingCString: $0) } : nil
                let which = flag.map { $0.hasPrefix("-") ? "the value of \($0)" : "argument \(i)" } ?? "argument \(i)"
                return "\(which) is not valid UTF-8 — pass names, keys, addresses and URLs as UTF-8 text"
            }
        }
        if let pointer = getenv("AUTOCLUSTER_STORE") {
            let bytes = UnsafeBufferPointer(start: pointer, count: strlen(pointer)).map { UInt8(bitPattern: $0) }
            if String(validating: bytes, as: UTF8.self) == nil {
                return "$AUTOCLUSTER_STORE is not valid UTF-8 — set it to a store URL such as etcd://127.0.0.1:2379"
            }
        }
        return nil
    }
}

/// Writes `autocluster: error: LINE` (one line, control characters escaped) and exits.
func exitWithError(_ text: String, status: ExitCode) -> Never {
    FileHandleOutput.standardError("autocluster: error: \(oneLine(withoutScriptAdvice(text)))\n")
    exit(status.rawValue)
}

/// `text` without the libraries' pointers to this repository's development scripts
/// (" (scripts/start-stores.sh starts one)"): a user of the command has no such scripts.
func withoutScriptAdvice(_ text: String) -> String {
    var text = text
    while let start = text.range(of: " (scripts/"), let end = text[start.upperBound...].firstIndex(of: ")") {
        text.removeSubrange(start.lowerBound...end)
    }
    return text
}

/// `text` on one line: line breaks become spaces, other control characters are escaped.
func oneLine(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        if scalar.properties.isWhitespace && scalar != " " && (scalar.value < 0x20 || scalar.value >= 0x85) {
            out += " "  // \n, \r, \t, U+2028, …
        } else if isControl(scalar) {
            out += "\\u{\(String(scalar.value, radix: 16))}"
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// Runs a subcommand's body: any error becomes one line on stderr and the exit status of
/// ``ExitStatus`` (see `AutoClusterCommand.main`).
func runReportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch is CancellationError {
        throw ExitCode(ExitStatus.interrupted)
    } catch let error as ValidationError {
        exitWithError("\(error)", status: .validationFailure)
    } catch let error as NodeListError where error.code == .corruptValue {
        // The library's advice names its API; say what the command offers instead.
        exitWithError(
            "\(error)".replacingOccurrences(
                of: "opt into .replaceCorrupt",
                with: "inspect it with list --raw, or run join or sweep with --replace-corrupt to replace it"),
            status: ExitCode(ExitStatus.corruptValue))
    } catch let error as NodeListError {
        exitWithError("\(error)", status: ExitCode(ExitStatus.status(for: error)))
    } catch {
        exitWithError("\(error)", status: ExitCode(ExitStatus.failure))
    }
}

enum FileHandleOutput {
    static func standardError(_ text: String) {
        _ = text.utf8CString.withUnsafeBufferPointer { buffer in
            write(2, buffer.baseAddress, buffer.count - 1)
        }
    }

    static func standardOutput(_ text: String) { standardOutput(bytes: Array(text.utf8)) }

    /// Writes exactly `bytes` (the raw dump of a stored value).
    static func standardOutput(bytes all: [UInt8]) {
        var bytes = all[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
