import Logging
import NIOCore
import NIOPosix

/// The destination's migration port: TLS connections from peers, each carrying one
/// migration stream to the `vmm receive` its first line names.
enum MigrationListener {
    /// Listens on `host:port` until the daemon exits.
    static func start(
        host: String, port: Int, security: TunnelSecurity, tunnels: IncomingTunnels, logger: Logger,
        onAccepted: @escaping @Sendable (String) -> Void
    ) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(MigrationTunnel.userTimeoutOption, value: MigrationTunnel.linkTimeoutMilliseconds)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try security.addServer(channel)
                    try channel.pipeline.syncOperations.addHandler(
                        MigrationHeaderHandler(tunnels: tunnels, logger: logger, onAccepted: onAccepted))
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}
