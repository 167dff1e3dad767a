import ArgumentParser
import AutoCluster

/// `autocluster join`: joins once and exits.
struct Join: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add a node to the list: probe the listed nodes, record its votes, sweep what a majority agrees is dead, add the node by compare-and-swap.")

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var node: NodeOptions
    @OptionGroup var probe: ProbeOptions

    @OptionGroup var outputOptions: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            let me = try node.node()
            let outcome = try await storeOptions.withStore(probe: probe) { store in try await store.join(me) }
            if outputOptions.format == .json {
                try printJSON(JoinJSON(outcome))
            } else {
                var text = outcome.created
                    ? "\(me.name) created the list\n"
                    : "\(me.name) joined (seed: \(outcome.seed?.description ?? "none"), swept: \(Render.names(outcome.swept)), attempts: \(outcome.attempts))\n"
                if outcome.isolated {
                    text += "\(me.name) is isolated: it reaches \(outcome.responsive) of \(outcome.listed) listed nodes (itself included), no majority — it swept nothing and connected to no seed\n"
                }
                text += Render.table(outcome.nodes)
                FileHandleOutput.standardOutput(text)
            }
        }
    }
}
