import ArgumentParser
import AutoCluster

/// `autocluster leave`: removes every entry with the name.
struct Leave: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove a node (every entry with its name) from the list.")

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "The name of the node to remove.")
    var name: String

    @Option(help: "Remove only this incarnation of the name.")
    var incarnation: String?

    @OptionGroup var outputOptions: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            let removed = try await storeOptions.withStore { store in
                if let incarnation {
                    return try await store.leave(ClusterNode(name: name, address: "0.0.0.0:1", incarnation: incarnation))
                }
                return try await store.leave(name: name)
            }
            if outputOptions.format == .json {
                try printJSON(LeaveJSON(removed: removed))
            } else {
                FileHandleOutput.standardOutput(removed ? "\(name) left\n" : "\(name) was not listed\n")
            }
        }
    }
}
