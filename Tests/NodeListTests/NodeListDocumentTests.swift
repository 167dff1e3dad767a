import AutoCluster
import Foundation
import NodeList
import Testing

@Suite struct NodeListDocumentTests {
    static let t0 = Date(timeIntervalSince1970: 1_795_341_600)  // 2026-11-22T10:00:00Z

    @Test func encodesTheDocumentedFormat() {
        let node = ClusterNode(
            name: "n1", address: "10.0.0.5:7001", incarnation: "8c1f", joinedAt: Self.t0, metadata: ["zone": "a", "v": "2"])
        let text = String(decoding: NodeListDocument(nodes: [node]).encoded(), as: UTF8.self)
        #expect(
            text
                == #"{"format":1,"nodes":[{"name":"n1","address":"10.0.0.5:7001","incarnation":"8c1f","joinedAt":"2026-11-22T10:00:00Z","metadata":{"v":"2","zone":"a"}}]}"#
        )
    }

    @Test func roundTripsEscapesAndMilliseconds() throws {
        let nodes = [
            ClusterNode(name: "n\"1\\", address: "[::1]:7001", incarnation: "a\nb", joinedAt: Self.t0.addingTimeInterval(0.25)),
            ClusterNode(name: "ñ-2", address: "127.0.0.1:7002", joinedAt: Self.t0.addingTimeInterval(1.001), metadata: ["k": "\u{1}"]),
        ]
        let bytes = NodeListDocument(nodes: nodes).encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""joinedAt":"2026-11-22T10:00:00.250Z""#))
        let decoded = try NodeListDocument.decode(bytes, version: 3)
        #expect(decoded.nodes == nodes)
        #expect(decoded.encoded() == bytes)
        // Foundation's own JSON parser reads it too (what another language's client would do).
        let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        #expect((object?["nodes"] as? [[String: Any]])?.first?["name"] as? String == "n\"1\\")
    }

    @Test func readsOffsetsFractionsAndUnknownFields() throws {
        let text = #"{"format":1,"extra":true,"nodes":[{"name":"a","address":"h:1","incarnation":"i","joinedAt":"2026-11-22T11:00:00.5+01:00","future":[1]}]}"#
        let document = try NodeListDocument.decode(Array(text.utf8), version: 9)
        #expect(document.nodes.count == 1)
        #expect(document.nodes[0].joinedAt == Self.t0.addingTimeInterval(0.5))
        #expect(document.nodes[0].metadata.isEmpty)
    }

    @Test(arguments: [
        "not json",
        "[1,2]",
        #"{"nodes":[]}"#,
        #"{"format":2,"nodes":[]}"#,
        #"{"format":true,"nodes":[]}"#,
        #"{"format":1}"#,
        #"{"format":1,"nodes":[{"address":"h:1","incarnation":"i","joinedAt":"2026-11-22T10:00:00Z"}]}"#,
        #"{"format":1,"nodes":[{"name":"a","address":"h:1","incarnation":"i","joinedAt":"yesterday"}]}"#,
        #"{"format":1,"nodes":[{"name":"a","address":"h:1","incarnation":"i","joinedAt":"2026-11-22T10:00:00Z","metadata":{"x":1}}]}"#,
        #"{"format":1,"nodes":[{"name":"","address":"h:1","incarnation":"i","joinedAt":"2026-11-22T10:00:00Z"}]}"#,
    ])
    func rejectsCorruptValues(_ text: String) {
        let bytes = Array(text.utf8)
        let error = #expect(throws: NodeListError.self) { try NodeListDocument.decode(bytes, version: 42) }
        #expect(error?.code == .corruptValue)
        #expect(error?.version == 42)
        #expect(error?.bytes == bytes)
        #expect(error?.message.contains("left untouched") == true)
    }

    @Test func joinOutcomeJSON() throws {
        let a = ClusterNode(name: "a", address: "127.0.0.1:1", incarnation: "x", joinedAt: Self.t0)
        let outcome = JoinOutcome(seed: a, swept: [], nodes: [a], attempts: 1, created: false, version: 5)
        let object = try JSONSerialization.jsonObject(with: Data(outcome.jsonText.utf8)) as? [String: Any]
        #expect((object?["seed"] as? [String: Any])?["name"] as? String == "a")
        #expect((object?["swept"] as? [Any])?.isEmpty == true)
        #expect((object?["nodes"] as? [Any])?.count == 1)
        #expect(object?["attempts"] as? Int == 1)
        #expect(object?["created"] as? Bool == false)
    }

    // Found by Fuzz/FuzzNodeListDocument (crash-b141a9a0…): a joinedAt in the year 1013 decoded
    // (Julian calendar) and re-encoded (proleptic Gregorian) to a different instant.
    // Found by Fuzz/FuzzNodeListDocument: Foundation's ISO8601DateFormatter (ICU) crashed the
    // whole process with SIGFPE on a fraction of a hundred digits; the parser is now our own.
    @Test(arguments: ["1013-11-22T10:00:00.123Z", "1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
                      "2026-05-22T10:00:00." + String(repeating: "5", count: 100) + "23Z",
                      "2026-05-22T10:01.:00023Z", "2026-02-30T10:00:00Z", "2026-11-22T24:00:00Z",
                      "2026-11-22T10:00:00", "2026-11-22T10:00:00+0200", "2026-11-22T10:00:00Z ", "2026-11-22"])
    func malformedOrOutOfRangeJoinedAtIsACorruptValue(_ joinedAt: String) {
        let text = #"{"format":1,"nodes":[{"name":"n1","address":"h:1","incarnation":"x","joinedAt":"\#(joinedAt)"}]}"#
        do {
            _ = try NodeListDocument.decode(Array(text.utf8), version: 3)
            Issue.record("decoded a joinedAt of \(joinedAt)")
        } catch let error as NodeListError {
            #expect(error.code == .corruptValue)
            #expect(error.message.contains("joinedAt"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func everyDecodableDocumentReencodesToTheSameNodes() throws {
        let text = #"{"format":1,"nodes":[{"name":"n1","address":"[::1]:7001","incarnation":"x","joinedAt":"2026-11-22T10:00:00.123Z","metadata":null},{"name":"n2","address":"h:1","incarnation":"y","joinedAt":"2026-11-22T10:00:00+02:00"}]}"#
        let document = try NodeListDocument.decode(Array(text.utf8), version: 1)
        #expect(try NodeListDocument.decode(document.encoded(), version: 2) == document)
    }
}
