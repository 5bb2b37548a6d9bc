import NIOCore
import NIOHTTP1
import Synchronization
import VMMAPI

/// Keeps a connection's first request head, then leaves the pipeline. NIO's server upgrade
/// handler drops the head of a request whose upgrade it declines (it only hands on what
/// follows), so ``GuardedHTTP1Channel`` answers such a request from this copy. Until the
/// head came, it also answers a request the decoder refused (431, 400), as
/// ``HTTPExchangeWatcher`` does for later requests (it is not in the pipeline yet).
final class FirstRequestHead: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let maxHeaderSize: Int
    private let recorded = Mutex<HTTPRequestHead?>(nil)

    init(maxHeaderSize: Int) {
        self.maxHeaderSize = maxHeaderSize
    }

    /// The head, once it came.
    var head: HTTPRequestHead? { recorded.withLock { $0 } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) { recorded.withLock { $0 = head } }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else { return context.fireErrorCaught(error) }
        let answer = HTTPExchangeWatcher.answer(to: parserError, maxHeaderSize: maxHeaderSize)
        let body = JSONResponse.encode(answer)
        let head = HTTPResponseHead(
            version: .http1_1, status: .init(statusCode: APIError.Code(rawValue: answer.code)?.httpStatus ?? 400),
            headers: ["Content-Type": "application/json", "Content-Length": "\(body.readableBytes)", "Connection": "close"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
