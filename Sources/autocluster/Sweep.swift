import ArgumentParser
import AutoCluster

/// `autocluster sweep`.
struct Sweep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Probe every listed node and remove the dead ones (same rules as a join).")

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var probe: ProbeOptions

    @Flag(help: "Print {\"swept\":[…],\"nodes\":[…]}.")
    var json = false

    func run() async throws {
        try await runReportingErrors {
            let (swept, nodes) = try await storeOptions.withStore(probe: probe) { store in
                (try await store.sweep(), try await store.nodes())
            }
            if json {
                FileHandleOutput.standardOutput(
                    "{\"swept\":[\(swept.map(\.jsonText).joined(separator: ","))],\"nodes\":[\(nodes.map(\.jsonText).joined(separator: ","))]}\n")
            } else {
                FileHandleOutput.standardOutput("swept: \(Render.names(swept))\n" + Render.table(nodes))
            }
        }
    }
}
