import HummingbirdCore
import Logging
import NIOCore
import VMMAPI

/// Hummingbird's HTTP/1.1 channel within the API's bounds (``APILimits``): each
/// connection is admitted by the ``ConnectionRegistry`` (or refused at the limit), watched
/// by a ``RequestBytesWatcher`` and an ``HTTPExchangeWatcher`` for its deadlines, and its
/// request heads are capped by the HTTP decoder's limits.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    private let http: HTTP1Channel
    private let registry: ConnectionRegistry
    /// Whether a refused connection gets a 503 first; not under TLS, where nothing can be
    /// said before the peer completes a handshake.
    private let answersRefusals: Bool

    init(responder: @escaping HTTPChannelHandler.Responder, registry: ConnectionRegistry, answersRefusals: Bool) {
        let limit = registry.limits.maxHeaderSize
        http = HTTP1Channel(
            responder: responder,
            configuration: .init(
                httpDecoderConfiguration: .init(maxHeaderFieldSize: limit, maxHeaderListSize: limit, maxHeaderFieldCount: 256)))
        self.registry = registry
        self.answersRefusals = answersRefusals
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard registry.admit(channel) else { return refuse(channel, logger: logger) }
        channel.closeFuture.whenComplete { [registry] _ in registry.remove(channel) }
        let activity = ConnectionActivity(registry: registry, channel: channel)
        do {
            try channel.pipeline.syncOperations.addHandler(RequestBytesWatcher(activity, requestTimeout: registry.limits.requestTimeout))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        // The exchange watcher goes right behind the decoder, where HTTP1Channel puts its
        // additional handlers; the closure runs now, on this event loop.
        let exchangeWatcher = NIOLoopBound(HTTPExchangeWatcher(activity), eventLoop: channel.eventLoop)
        var configuration = http.configuration
        configuration.additionalChannelHandlers = { [exchangeWatcher] in [exchangeWatcher.value] }
        return HTTP1Channel(responder: http.responder, configuration: configuration).setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await http.handle(value: value, logger: logger)
    }

    /// Every connection has a request being handled: this one is turned away at once.
    private func refuse(_ channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let error = APIError(
            code: .unavailable,
            message: "vmmd has \(registry.limits.maxConnections) connections with requests in progress; try again shortly")
        do {
            try channel.pipeline.syncOperations.addHandler(ConnectionRefuser(answer: answersRefusals ? JSONResponse.closingHTTP1(error) : nil))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return http.setup(channel: channel, logger: logger)
    }
}
