import ArgumentParser
import AutoCluster

/// `autocluster watch`.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the node list now and after every change, until interrupted.")

    @OptionGroup var storeOptions: StoreOptions

    @Flag(help: "Print each list as one line of JSON ({\"format\":1,\"nodes\":[…]}).")
    var json = false

    func run() async throws {
        try await runReportingErrors {
            try await storeOptions.withStore { store in
                for try await nodes in store.updates() {
                    if json {
                        FileHandleOutput.standardOutput(String(decoding: NodeListDocument(nodes: nodes).encoded(), as: UTF8.self) + "\n")
                    } else {
                        FileHandleOutput.standardOutput("--- \(Render.timestamp(.now)) \(nodes.count) node(s)\n" + Render.table(nodes))
                    }
                }
            }
        }
    }
}
