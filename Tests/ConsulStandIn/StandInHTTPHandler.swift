// Part of the Consul STAND-IN (not Consul): the HTTP/1.1 server side.
import NIOCore
import NIOHTTP1

struct StandInRequest: Sendable {
    var method: String
    var uri: String  // as received, with the query
    var path: String  // percent-decoded, without the query
    var query: [String: String]
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
    func flag(_ name: String) -> Bool { query[name] != nil }
}

struct StandInResponse: Sendable {
    var status: Int
    var body: [UInt8]
    var index: UInt64?
    var contentType = "application/json"

    static func json(_ text: String, status: Int = 200, index: UInt64? = nil) -> StandInResponse {
        StandInResponse(status: status, body: Array(text.utf8), index: index)
    }
    static func text(_ text: String, status: Int, index: UInt64? = nil) -> StandInResponse {
        StandInResponse(status: status, body: Array(text.utf8), index: index, contentType: "text/plain; charset=utf-8")
    }
}

final class StandInHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let core: StandInCore
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(core: StandInCore) { self.core = core }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body = []
        case .body(let buffer):
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head else { return }
            self.head = nil
            let request = Self.parse(head: head, body: body)
            body = []
            let keepAlive = head.isKeepAlive
            let version = head.version
            let promise = context.eventLoop.makePromise(of: StandInResponse.self)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let core = self.core
            promise.futureResult.whenSuccess { response in
                Self.write(
                    response, version: version, keepAlive: keepAlive, knownLeader: core.hasLeader,
                    context: bound.value)
            }
            core.handle(request, eventLoop: context.eventLoop, promise: promise)
        }
    }

    private static func write(
        _ response: StandInResponse, version: HTTPVersion, keepAlive: Bool, knownLeader: Bool,
        context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        if let index = response.index {
            headers.add(name: "X-Consul-Index", value: String(index))
            // "Consistency Modes": stale reads report whether the server knows a leader and how long
            // since it heard from it (milliseconds).
            headers.add(name: "X-Consul-KnownLeader", value: knownLeader ? "true" : "false")
            headers.add(name: "X-Consul-LastContact", value: knownLeader ? "0" : "5000")
        }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(
            version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        buffer.writeBytes(response.body)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    static func parse(head: HTTPRequestHead, body: [UInt8]) -> StandInRequest {
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let rawPath = String(parts.first ?? "")
        var query: [String: String] = [:]
        if parts.count > 1 {
            for item in parts[1].split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = percentDecode(String(pair[0]))
                query[name] = pair.count > 1 ? percentDecode(String(pair[1])) : ""
            }
        }
        return StandInRequest(
            method: head.method.rawValue, uri: head.uri, path: percentDecode(rawPath), query: query,
            headers: head.headers.map { ($0.name, $0.value) }, body: body)
    }

    static func percentDecode(_ text: String) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let h = iterator.next(), let l = iterator.next(),
                let value = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
