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
            Store URLs: zookeeper://h1:2181,h2:2181/chroot, etcd://h1:2379 (etcds:// for TLS), \
            consul://127.0.0.1:8500 (consuls://). --store defaults to $AUTOCLUSTER_STORE.
            """,
        subcommands: [Join.self, Leave.self, List.self, Sweep.self, Watch.self, Run.self]
    )
}

/// Runs a subcommand's body: any error becomes one line on stderr and exit status 1.
func runReportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch is CancellationError {
        throw ExitCode(130)
    } catch {
        let line = "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
        FileHandleOutput.standardError("autocluster: error: \(line)\n")
        throw ExitCode.failure
    }
}

enum FileHandleOutput {
    static func standardError(_ text: String) {
        _ = text.utf8CString.withUnsafeBufferPointer { buffer in
            write(2, buffer.baseAddress, buffer.count - 1)
        }
    }

    static func standardOutput(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
