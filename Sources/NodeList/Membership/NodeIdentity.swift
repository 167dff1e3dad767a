/// One entry of the list: a node's name and incarnation (two runs of one name are two entries).
struct NodeIdentity: Hashable, Sendable, Comparable, CustomStringConvertible {
    var name: String
    var incarnation: String

    init(name: String, incarnation: String) {
        self.name = name
        self.incarnation = incarnation
    }

    init(_ node: ClusterNode) {
        self.init(name: node.name, incarnation: node.incarnation)
    }

    static func < (a: Self, b: Self) -> Bool { (a.name, a.incarnation) < (b.name, b.incarnation) }

    var description: String { "\(name)/\(incarnation.prefix(8))" }
}
