import ArgumentParser
import AutoCluster

/// `autocluster list`.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the node list.")

    @OptionGroup var storeOptions: StoreOptions

    @Flag(help: "Print the stored JSON document ({\"format\":1,\"nodes\":[…]}).")
    var json = false

    func run() async throws {
        try await runReportingErrors {
            let nodes = try await storeOptions.withStore { store in try await store.nodes() }
            if json {
                FileHandleOutput.standardOutput(String(decoding: NodeListDocument(nodes: nodes).encoded(), as: UTF8.self) + "\n")
            } else {
                FileHandleOutput.standardOutput(Render.table(nodes))
            }
        }
    }
}
