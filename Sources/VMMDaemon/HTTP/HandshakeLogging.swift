import HummingbirdCore
import Logging
import NIOCore

/// Wraps the HTTP channel of the TLS server so every connection gets a
/// ``HandshakeLogger`` right behind the TLS handler: a refused peer is logged, with its
/// address and why, before the connection closes.
struct HandshakeLogging<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let logger: Logger

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(HandshakeLogger(logger: self.logger))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
