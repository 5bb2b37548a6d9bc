import Logging
import NIOCore

extension VMManager {
    /// Lets this daemon migrate VMs to and from peers: listens for migration streams on
    /// `host:network.migrationPort` until the daemon exits.
    func enablePeers(_ network: PeerNetwork, listeningOn host: String) async throws {
        peers = network
        let logger = logger
        let listener = try await MigrationListener.start(
            host: host, port: network.migrationPort, security: network.security, tunnels: network.tunnels, logger: logger
        ) { id in logger.info("migration \(id): stream from the source begins") }
        logger.info("taking migration streams on \(host):\(network.migrationPort) (TLS, peers only)")
        migrationListener = listener
    }
}
