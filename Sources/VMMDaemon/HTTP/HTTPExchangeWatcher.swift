import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import VMMAPI

/// Sits behind the HTTP decoder: tells the connection's ``ConnectionActivity`` where each
/// request and response stands, and answers a request the decoder refused (431 for a
/// head over the size limit, 400 for anything else malformed) in the API's error shape
/// before closing, where Hummingbird would send an empty 400.
final class HTTPExchangeWatcher: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let activity: ConnectionActivity

    init(_ activity: ConnectionActivity) {
        self.activity = activity
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: activity.requestHeadArrived()
        case .body: break
        case .end: activity.requestEnded()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head: activity.responseStarted()
        case .body: break
        case .end: activity.responseEnded()
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else { return context.fireErrorCaught(error) }
        guard !activity.responding else { return context.close(promise: nil) }
        let answer = Self.answer(to: parserError, maxHeaderSize: activity.maxHeaderSize)
        let body = JSONResponse.encode(answer)
        let head = HTTPResponse(
            status: .init(code: APIError.Code(rawValue: answer.code)?.httpStatus ?? 400),
            headerFields: [.contentType: "application/json", .contentLength: "\(body.readableBytes)", .connection: "close"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// The error a request the decoder refused gets: 431 for a head over the limit, else 400.
    static func answer(to parserError: HTTPParserError, maxHeaderSize: Int) -> APIError {
        parserError == .headerOverflow
            ? APIError(
                code: .headersTooLarge,
                message: "the request line and headers are over \(maxHeaderSize) bytes; send fewer or shorter headers")
            : APIError(code: .badRequest, message: "malformed HTTP request (\(parserError))")
    }
}
