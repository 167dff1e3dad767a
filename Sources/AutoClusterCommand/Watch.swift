import ArgumentParser
import AutoCluster

/// `autocluster watch`.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the node list now and after every change, until interrupted.")

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var outputOptions: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            try await storeOptions.withStore { store in
                for try await nodes in store.updates() {
                    if outputOptions.format == .json {
                        try printJSON(ListJSON(nodes: nodes, version: nil, includesVersion: false))
                    } else {
                        FileHandleOutput.standardOutput("--- \(Render.timestamp(.now)) \(nodes.count) node(s)\n" + Render.table(nodes))
                    }
                }
            }
        }
    }
}
