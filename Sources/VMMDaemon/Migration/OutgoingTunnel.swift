import Glibc
import NIOCore
import NIOPosix
import VMMAPI

/// The source's end of a migration: a Unix socket the `vmm` connects to (`migrate PATH`);
/// its one connection is carried over TLS to the destination's migration port, after the
/// line naming the migration.
final class OutgoingTunnel: Sendable {
    private let listener: any Channel
    let socketPath: String

    private init(listener: any Channel, socketPath: String) {
        self.listener = listener
        self.socketPath = socketPath
    }

    /// Listens on `socketPath` (mode 0600 by the daemon's umask) for the `vmm`; `failed` is
    /// told when the destination cannot be reached (the `vmm` sees its connection closed).
    static func open(
        socketPath: String, host: String, port: Int, id: String, security: TunnelSecurity,
        failed: @escaping @Sendable (String) -> Void
    ) async throws -> OutgoingTunnel {
        unlink(socketPath)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { local in
                local.eventLoop.makeCompletedFuture {
                    // Connected once the `vmm`'s connection is active: a connection to the
                    // destination made sooner could be spliced to a channel not yet open.
                    try local.pipeline.syncOperations.addHandler(WhenActive {
                        connect(local, host: host, port: port, id: id, security: security, failed: failed)
                    })
                }
            }
            .bind(unixDomainSocketPath: socketPath)
            .get()
        return OutgoingTunnel(listener: listener, socketPath: socketPath)
    }

    /// Stops listening and removes the socket; a stream already under way goes on.
    func close() {
        listener.close(promise: nil)
        unlink(socketPath)
    }

    private static func connect(
        _ local: any Channel, host: String, port: Int, id: String, security: TunnelSecurity,
        failed: @escaping @Sendable (String) -> Void
    ) {
        let remote = ClientBootstrap(group: local.eventLoop)
            .connectTimeout(.seconds(10))
            .channelOption(MigrationTunnel.userTimeoutOption, value: MigrationTunnel.linkTimeoutMilliseconds)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try security.addClient(channel, host) }
            }
            .connect(to: HostAndPort(host: host, port: port))
        remote.assumeIsolated().whenComplete { result in
            switch result {
            case .failure(let error):
                failed("cannot reach the migration port \(host):\(port): \(error)")
                local.close(promise: nil)
            case .success(let network):
                network.writeAndFlush(ByteBuffer(string: MigrationTunnel.header(for: id)), promise: nil)
                do {
                    try MigrationTunnel.splice(local, network)
                    local.setOption(.autoRead, value: true).whenFailure { _ in local.close(promise: nil) }
                } catch {
                    failed("cannot join the migration stream: \(error)")
                    local.close(promise: nil)
                    network.close(promise: nil)
                }
            }
        }
    }
}

/// Runs `action` once its channel is active, then leaves the pipeline.
private final class WhenActive: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let action: () -> Void

    init(_ action: @escaping () -> Void) {
        self.action = action
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        action()
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }
}
