import ArgumentParser
import AutoCluster

/// `autocluster sweep`.
struct Sweep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Probe every listed node; as a listed member (--as NAME) record its votes; remove what the sweep rules allow.")

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var probe: ProbeOptions

    @Option(name: .customLong("as"), help: "Sweep as this listed member: it is not probed, and its verdicts are recorded as its votes. Without it, only entries a majority has already voted against are removed.")
    var member: String?

    @OptionGroup var outputOptions: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            let (swept, nodes) = try await storeOptions.withStore(probe: probe) { store in
                (try await store.sweep(excluding: member), try await store.nodes())
            }
            if outputOptions.format == .json {
                try printJSON(SweepJSON(swept: swept.map(NodeJSON.init), nodes: nodes.map(NodeJSON.init)))
            } else {
                FileHandleOutput.standardOutput("swept: \(Render.names(swept))\n" + Render.table(nodes))
            }
        }
    }
}
