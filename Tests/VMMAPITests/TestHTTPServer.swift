import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A tiny HTTP server on a temporary Unix socket, answering from a routing closure.
final class TestHTTPServer: Sendable {
    struct Request: Sendable {
        var head: HTTPRequestHead
        var body: [UInt8]
    }

    enum Reply: Sendable {
        /// A complete response with a Content-Length.
        case full(status: HTTPResponseStatus, body: String)
        /// A chunked response whose chunks are sent one by one, left open afterwards.
        case chunks([String])
        /// No answer at all; the connection stays open.
        case silent
    }

    let socketPath: String
    private let directory: String
    private let channel: any Channel
    private let recorded: RequestLog

    /// The requests served so far.
    var requests: [Request] { recorded.requests.withLock { $0 } }

    /// A server answering each request with `route`'s reply.
    convenience init(route: @escaping @Sendable (Request) -> Reply) async throws {
        let recorded = RequestLog()
        try await self.init(recorded: recorded) { channel in
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(RouteHandler { request in
                recorded.requests.withLock { $0.append(request) }
                return route(request)
            })
        }
    }

    /// A broken server: answers any connection with `garbage` and closes it.
    convenience init(garbage: String) async throws {
        try await self.init(recorded: RequestLog()) { channel in
            try channel.pipeline.syncOperations.addHandler(GarbageHandler(garbage: garbage))
        }
    }

    private init(recorded: RequestLog, initializer: @escaping @Sendable (any Channel) throws -> Void) async throws {
        directory = try TemporaryDirectory.make()
        socketPath = directory + "/api.sock"
        self.recorded = recorded
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try initializer(channel) }
            }
            .bind(unixDomainSocketPath: socketPath).get()
    }

    func shutdown() async throws {
        try await channel.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

private final class RequestLog: Sendable {
    let requests = Mutex<[TestHTTPServer.Request]>([])
}

private final class RouteHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let route: @Sendable (TestHTTPServer.Request) -> TestHTTPServer.Reply
    private var request: TestHTTPServer.Request?

    init(route: @escaping @Sendable (TestHTTPServer.Request) -> TestHTTPServer.Reply) {
        self.route = route
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = TestHTTPServer.Request(head: head, body: [])
        case .body(let chunk):
            request?.body.append(contentsOf: chunk.readableBytesView)
        case .end:
            guard let request else { return }
            reply(route(request), context: context)
        }
    }

    private func reply(_ reply: TestHTTPServer.Reply, context: ChannelHandlerContext) {
        switch reply {
        case .full(let status, let body):
            let headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", String(body.utf8.count))])
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        case .chunks(let chunks):
            let headers = HTTPHeaders([("Content-Type", "application/x-ndjson")])
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            for chunk in chunks {
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: chunk)))), promise: nil)
            }
        case .silent:
            break
        }
    }
}

private final class GarbageHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let garbage: String

    init(garbage: String) { self.garbage = garbage }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: garbage)), promise: nil)
        context.close(promise: nil)
    }
}
