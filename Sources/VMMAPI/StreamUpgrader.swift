import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// What a request to switch protocols came to.
enum UpgradeOutcome: Sendable {
    /// 101: the connection is spliced to the socket pair.
    case switched
    /// Any other answer, to be read as HTTP.
    case refused(HTTPClient.Connection)
}

/// Splices a connection that switched to `protocol` to one end of a socket pair.
final class StreamUpgrader: NIOTypedHTTPClientProtocolUpgrader, Sendable {
    let supportedProtocol: String
    let requiredUpgradeHeaders: [String] = []
    /// The socket pair's end NIO is to own; nil once it does.
    private let descriptor: Mutex<Int32?>

    init(protocol: String, descriptor: Int32) {
        supportedProtocol = `protocol`
        self.descriptor = Mutex(descriptor)
    }

    func addCustom(upgradeRequestHeaders: inout HTTPHeaders) {}

    func shouldAllowUpgrade(upgradeResponse: HTTPResponseHead) -> Bool { true }

    func upgrade(channel: any Channel, upgradeResponse: HTTPResponseHead) -> EventLoopFuture<UpgradeOutcome> {
        guard let descriptor = descriptor.withLock({ $0.take() }) else {
            return channel.eventLoop.makeFailedFuture(ChannelError.inappropriateOperationForState)
        }
        // Not reading the pair before the splice exists: nothing may be lost in between.
        return ClientBootstrap(group: channel.eventLoop)
            .channelOption(ChannelOptions.autoRead, value: false)
            .withConnectedSocket(descriptor)
            .flatMapThrowing { pair in
                try ChannelSplice.join(channel, pair)
                try pair.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
                return .switched
            }
    }

    /// Closes the pair's end if the connection never switched.
    func closeUnlessTaken() {
        if let descriptor = descriptor.withLock({ $0.take() }) { close(descriptor) }
    }
}
