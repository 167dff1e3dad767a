import ArgumentParser

/// `--output table|json`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Text for people: a table of the nodes.
    case table
    /// One JSON object per result (per change for `watch`), keys sorted.
    case json
}
