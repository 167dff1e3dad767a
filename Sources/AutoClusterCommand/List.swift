import ArgumentParser
import AutoCluster

/// `autocluster list`.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the node list and the store's version of it.",
        discussion: """
            The table starts with a line `KEY version N` (the store's version of the value: ZooKeeper's \
            stat version, etcd's mod revision, Consul's ModifyIndex); JSON has a `version` field \
            (null when the list does not exist). With --raw it prints the exact stored bytes instead, \
            whether or not they are a node list (--output json: base64, the UTF-8 text if valid, \
            the version and the size), so a corrupt value can be inspected; exit status 66 when \
            nothing is stored at the key.
            """)

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var outputOptions: OutputOptions

    @Flag(help: "Print the stored value's exact bytes (with --output json: as base64 with its version), even when it is not a node list.")
    var raw = false

    func run() async throws {
        try await runReportingErrors {
            if raw { return try await printRaw() }
            let document = try await storeOptions.withStore { store in try await store.document() }
            switch outputOptions.format {
            case .json:
                try printJSON(ListJSON(nodes: document?.nodes ?? [], version: document?.version))
            case .table:
                let header = document.map { "\(storeOptions.key) version \($0.version)\n" }
                    ?? "\(storeOptions.key) does not exist\n"
                FileHandleOutput.standardOutput(header + Render.table(document?.nodes ?? []))
            }
        }
    }

    private func printRaw() async throws {
        let key = storeOptions.key
        let value = try await storeOptions.withBackend { backend in try await backend.read(key: key) }
        guard let value else {
            exitWithError("nothing is stored at \(key) — check --key and --store", status: ExitCode(ExitStatus.notFound))
        }
        switch outputOptions.format {
        case .json: try printJSON(RawValueJSON(key: key, value: value))
        case .table: FileHandleOutput.standardOutput(bytes: value.bytes)
        }
    }
}
