import NIOCore
import VMMAPI

/// Sits in front of the HTTP decoder (behind TLS): a request's first byte starts its
/// deadline, long before the decoder has a whole head to show; and when the deadline
/// passes (``ConnectionRegistry/RequestTimedOut``), answers 408 and closes.
final class RequestBytesWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let activity: ConnectionActivity
    private let requestTimeout: Duration

    init(_ activity: ConnectionActivity, requestTimeout: Duration) {
        self.activity = activity
        self.requestTimeout = requestTimeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        activity.requestBytesArrived()
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ConnectionRegistry.RequestTimedOut else { return context.fireUserInboundEventTriggered(event) }
        guard !activity.responding else { return context.close(promise: nil) }
        let error = APIError(
            code: .requestTimeout,
            message: "the request did not arrive whole within \(requestTimeout.components.seconds) s; send it at once")
        context.writeAndFlush(wrapOutboundOut(JSONResponse.closingHTTP1(error))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
