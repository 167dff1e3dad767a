import ArgumentParser

/// `--output table|json`, and the deprecated `--json` (hidden; the same as `--output json`, kept
/// so that existing scripts work).
struct OutputOptions: ParsableArguments {
    @Option(name: .long, help: "How results are printed: table (default) or json (one object per result, keys sorted).")
    var output: OutputFormat?

    @Flag(name: .customLong("json"), help: ArgumentHelp("Deprecated: the same as --output json.", visibility: .hidden))
    var deprecatedJSON = false

    var format: OutputFormat { output ?? (deprecatedJSON ? .json : .table) }

    func validate() throws {
        if deprecatedJSON && output == .table {
            throw ValidationError("--json and --output table contradict each other — pass only one of them")
        }
    }
}
