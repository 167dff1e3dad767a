extension ClusterNode {
    /// The node as the JSON object stored in the list:
    /// `{"name":…,"address":…,"incarnation":…,"joinedAt":…,"metadata":{…}}`.
    public var jsonText: String {
        let document = String(decoding: NodeListDocument(nodes: [self]).encoded(), as: UTF8.self)
        // {"format":1,"nodes":[ … ]}
        let prefix = "{\"format\":\(NodeListDocument.currentFormat),\"nodes\":["
        return String(document.dropFirst(prefix.count).dropLast(2))
    }
}

extension JoinOutcome {
    /// `{"seed":…,"swept":[…],"nodes":[…],"attempts":N,"created":bool,"isolated":bool,"responsive":N,"listed":N}`
    /// (the `autocluster join --json` output).
    public var jsonText: String {
        "{\"seed\":\(seed?.jsonText ?? "null"),\"swept\":[\(swept.map(\.jsonText).joined(separator: ","))],"
            + "\"nodes\":[\(nodes.map(\.jsonText).joined(separator: ","))],\"attempts\":\(attempts),\"created\":\(created),"
            + "\"isolated\":\(isolated),\"responsive\":\(responsive),\"listed\":\(listed)}"
    }
}
