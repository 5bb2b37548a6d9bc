import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import VMMAPI

/// Hummingbird's HTTP/1.1 channel within the API's bounds (``APILimits``): each
/// connection is admitted by the ``ConnectionRegistry`` (or refused at the limit), watched
/// by a ``RequestBytesWatcher`` and an ``HTTPExchangeWatcher`` for its deadlines, and its
/// request heads are capped by the HTTP decoder's limits.
///
/// A connection's first request may switch it to a VM's console (HTTP/1.1 `Upgrade`,
/// ``ConsoleUpgrader``): NIO's typed server upgrade handler sits in front of Hummingbird's
/// HTTP handlers until that request is seen; a connection that does not switch gets them
/// behind it, as `HTTP1Channel` sets them up. A switched connection counts as a request
/// being handled until it closes (no deadline cuts it).
struct GuardedHTTP1Channel: ServerChildChannel {
    /// What the first request made of the connection.
    enum Outcome: Sendable {
        /// Plain HTTP, served by the router.
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// Spliced to a console; it ends when either side closes.
        case console
        /// A request that asked for an upgrade that did not happen (refused by
        /// ``ConsoleUpgrader``, or a protocol this server does not speak): NIO's upgrade
        /// handler kept nothing of it but the head (``FirstRequestHead``).
        case declined(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, HTTPRequestHead)
    }

    struct Value: ServerChildChannelValue {
        let channel: any Channel
        let outcome: EventLoopFuture<Outcome>
    }

    private let http: HTTP1Channel
    private let registry: ConnectionRegistry
    /// Whether a refused connection gets a 503 first; not under TLS, where nothing can be
    /// said before the peer completes a handshake.
    private let answersRefusals: Bool
    private let consoles: ConsoleUpgrader.Needs

    init(
        responder: @escaping HTTPChannelHandler.Responder, registry: ConnectionRegistry, answersRefusals: Bool,
        consoles: ConsoleUpgrader.Needs
    ) {
        let limit = registry.limits.maxHeaderSize
        http = HTTP1Channel(
            responder: responder,
            configuration: .init(
                httpDecoderConfiguration: .init(maxHeaderFieldSize: limit, maxHeaderListSize: limit, maxHeaderFieldCount: 256)))
        self.registry = registry
        self.answersRefusals = answersRefusals
        self.consoles = consoles
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard registry.admit(channel) else { return refuse(channel, logger: logger) }
        channel.closeFuture.whenComplete { [registry] _ in registry.remove(channel) }
        let activity = ConnectionActivity(registry: registry, channel: channel)
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(RequestBytesWatcher(activity, requestTimeout: registry.limits.requestTimeout))
            return try configureUpgradablePipeline(channel, activity, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.outcome.get() {
            case .http(let connection):
                await http.handle(value: connection, logger: logger)
            case .console:
                // The server counts the connection until it closes.
                try await value.channel.closeFuture.get()
            case .declined(let connection, let head):
                // Answered as the router answers it (403, 404, 409, 503, or the route it
                // names when it is not an attachment), then closed.
                try await connection.executeThenClose { _, outbound in
                    let request = Request(head: try HTTPRequest(head, secure: false, splitCookie: false), body: RequestBody(buffer: ByteBuffer()))
                    try await http.responder(request, ResponseWriter(outbound: outbound), value.channel)
                }
            }
        } catch {
            logger.debug("connection ended: \(error)")
            value.channel.close(promise: nil)
        }
    }

    /// NIO's HTTP handlers and upgrade handler (with the decoder's limits); what
    /// `HTTP1Channel` adds behind them (the exchange watcher among its additional handlers)
    /// once the first request is not an upgrade.
    private func configureUpgradablePipeline(_ channel: any Channel, _ activity: ConnectionActivity, logger: Logger) throws -> Value {
        let loopActivity = NIOLoopBound(activity, eventLoop: channel.eventLoop)
        let decoderLimits = http.configuration.httpDecoder
        let firstHead = FirstRequestHead(maxHeaderSize: decoderLimits.maxHeaderListSize)
        let upgrader = ConsoleUpgrader(consoles) { loopActivity.value.switchedProtocols() }
        var configuration = NIOUpgradableHTTPServerPipelineConfiguration(
            upgradeConfiguration: NIOTypedHTTPServerUpgradeConfiguration(upgraders: [upgrader]) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let activity = loopActivity.value
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                    try pipeline.addHandler(HTTPExchangeWatcher(activity))
                    try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                    let connection = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                        wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                    guard let head = firstHead.head, head.headers.contains(name: "upgrade") else { return .http(connection) }
                    // The watcher never saw this request: the answer must find it counted.
                    activity.requestHeadArrived()
                    activity.requestEnded()
                    return .declined(connection, head)
                }
            })
        // HTTP1Channel's choices: NIOAsyncChannel orders requests, Hummingbird handles
        // errors and HTTPTypes validates headers.
        configuration.enablePipelining = false
        configuration.enableErrorHandling = false
        configuration.enableResponseHeaderValidation = false
        configuration.decoderConfiguration.maxHeaderFieldSize = decoderLimits.maxHeaderFieldSize
        configuration.decoderConfiguration.maxHeaderListSize = decoderLimits.maxHeaderListSize
        configuration.decoderConfiguration.maxHeaderFieldCount = decoderLimits.maxHeaderFieldCount
        let pipeline = channel.pipeline.syncOperations
        let outcome = try pipeline.configureUpgradableHTTPServerPipeline(configuration: configuration)
        try pipeline.addHandler(firstHead, position: .before(try pipeline.handler(type: NIOTypedHTTPServerUpgradeHandler<Outcome>.self)))
        return Value(channel: channel, outcome: outcome)
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
        return http.setup(channel: channel, logger: logger).map { Value(channel: channel, outcome: channel.eventLoop.makeSucceededFuture(.http($0))) }
    }
}
