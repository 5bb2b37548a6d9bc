import Glibc
import Logging
import NIOCore

extension VMManager {
    /// Lets this daemon migrate VMs to and from peers: listens for migration streams on
    /// `host:network.migrationPort` until the daemon exits.
    func enablePeers(_ network: PeerNetwork, listeningOn host: String) async throws {
        peers = network
        let logger = logger
        let listener: any Channel
        do {
            listener = try await MigrationListener.start(
                host: host, port: network.migrationPort, security: network.security, tunnels: network.tunnels, logger: logger
            ) { id in logger.info("migration \(id): stream from the source begins") }
        } catch let error as IOError {
            throw FileError(
                "cannot take migration streams on \(host):\(network.migrationPort): \(String(cString: strerror(error.errnoCode)))"
                    + " (is another vmmd using it?)", code: error.errnoCode)
        }
        logger.info("taking migration streams on \(host):\(network.migrationPort) (TLS, peers only)")
        migrationListener = listener
    }
}
