import AutoCluster
import Foundation

/// Human-readable renderings of node lists for the command's output.
enum Render {
    /// A table: `#  NAME  ADDRESS  JOINED  INCARNATION  METADATA`.
    static func table(_ nodes: [ClusterNode], marking marks: [String: String] = [:]) -> String {
        if nodes.isEmpty { return "(no nodes)\n" }
        var rows: [[String]] = [["#", "NAME", "ADDRESS", "JOINED (UTC)", "INCARNATION", "METADATA"]]
        for (i, node) in nodes.enumerated() {
            let meta = node.metadata.keys.sorted().map { "\($0)=\(node.metadata[$0]!)" }.joined(separator: ",")
            rows.append([
                "\(i + 1)", node.name + (marks[node.name].map { " " + $0 } ?? ""), node.address,
                timestamp(node.joinedAt), String(node.incarnation.prefix(8)), meta,
            ])
        }
        var widths = Array(repeating: 0, count: rows[0].count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func names(_ nodes: [ClusterNode]) -> String {
        nodes.isEmpty ? "none" : nodes.map(\.name).joined(separator: ", ")
    }
}
