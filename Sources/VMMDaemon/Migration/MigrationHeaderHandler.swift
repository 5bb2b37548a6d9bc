import Logging
import NIOCore
import NIOPosix

/// The first handler behind TLS on the migration port: reads the line `VMM-MIGRATION
/// <id>\n` (at most `MigrationTunnel.maximumHeaderLength` bytes), connects to that
/// migration's `vmm receive` socket and splices the rest of the connection to it. An
/// unknown id, a line too long or no line at all closes the connection.
final class MigrationHeaderHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = NIOAny

    private enum Phase {
        case header
        case connecting
        case spliced
    }

    private let tunnels: IncomingTunnels
    private let logger: Logger
    private let onAccepted: @Sendable (String) -> Void
    private var phase = Phase.header
    private var received: ByteBuffer?

    /// `onAccepted(id)` is told when a stream for migration `id` begins.
    init(tunnels: IncomingTunnels, logger: Logger, onAccepted: @escaping @Sendable (String) -> Void) {
        self.tunnels = tunnels
        self.logger = logger
        self.onAccepted = onAccepted
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        if received == nil {
            received = chunk
        } else {
            received!.writeBuffer(&chunk)
        }
        guard phase == .header else { return }
        guard let buffer = received, let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if (received?.readableBytes ?? 0) > MigrationTunnel.maximumHeaderLength { context.close(promise: nil) }
            return
        }
        let length = newline - buffer.readerIndex
        guard length <= MigrationTunnel.maximumHeaderLength,
              let line = received!.readString(length: length), received!.readInteger(as: UInt8.self) != nil,
              line.hasPrefix(MigrationTunnel.headerPrefix)
        else {
            context.close(promise: nil)
            return
        }
        let id = String(line.dropFirst(MigrationTunnel.headerPrefix.count))
        guard let socketPath = tunnels.claim(id) else {
            logger.warning("migration port: connection for unknown migration \(id.prefix(64)) closed")
            context.close(promise: nil)
            return
        }
        phase = .connecting
        connect(context, to: socketPath, id: id)
    }

    /// Reads wait while the Unix side is being connected.
    func read(context: ChannelHandlerContext) {
        if phase != .connecting { context.read() }
    }

    /// A failed TLS handshake (no certificate, or one the CA did not sign) ends up here.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.warning("migration port: connection from \(context.remoteAddress?.description ?? "?") refused: \(error)")
        context.close(promise: nil)
    }

    private func connect(_ context: ChannelHandlerContext, to socketPath: String, id: String) {
        let network = context.channel
        let onAccepted = onAccepted
        let connection = ClientBootstrap(group: context.eventLoop).connect(unixDomainSocketPath: socketPath)
        connection.assumeIsolated().whenComplete { result in
            switch result {
            case .failure:
                network.close(promise: nil)
            case .success(let local):
                do {
                    if let rest = self.received, rest.readableBytes > 0 {
                        local.writeAndFlush(rest, promise: nil)
                    }
                    self.received = nil
                    self.phase = .spliced
                    try MigrationTunnel.splice(network, local)
                    onAccepted(id)
                    network.pipeline.syncOperations.removeHandler(self, promise: nil)
                    network.read()
                } catch {
                    network.close(promise: nil)
                    local.close(promise: nil)
                }
            }
        }
    }
}
