import Dispatch
import Foundation
import Glibc
import Hummingbird
import Logging
import VMMAPI

/// The daemon: loads VMs, re-adopts running ones, serves the REST API on the Unix socket
/// and tells systemd when it is ready.
public struct Daemon: Sendable {
    let configuration: DaemonConfiguration
    let logger: Logger

    public init(configuration: DaemonConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT. Never stops a VM: running `vmm` processes carry on and
    /// the next daemon re-adopts them.
    public func run() async throws {
        let startedAt = ContinuousClock.now
        // Files the daemon creates are root's alone unless it widens them on purpose.
        umask(0o077)
        let gid = GroupDirectory.gid(of: configuration.group)
        if gid == nil {
            logger.warning("group \(configuration.group) does not exist; the API is open to root only")
        }
        let manager = try VMManager(configuration: configuration, logger: logger)
        // EXPERIMENT (not to be committed): peers over Unix sockets, streams over plain TCP.
        if let spec = ProcessInfo.processInfo.environment["VMMD_TEST_PEERS"],
           let port = ProcessInfo.processInfo.environment["VMMD_TEST_MIGRATION_PORT"].flatMap(Int.init) {
            let map = Dictionary(uniqueKeysWithValues: spec.split(separator: ",").map {
                let parts = $0.split(separator: "=")
                return (String(parts[0]), String(parts[1]))
            })
            let network = PeerNetwork(
                security: TunnelSecurity(addServer: { _ in }, addClient: { _, _ in }),
                exchange: { peer, method, path, body in
                    try await UnixHTTPClient(socketPath: map[peer.description]!).send(method, path, body: body)
                },
                migrationPort: port)
            try await manager.enablePeers(network, listeningOn: "127.0.0.1")
        }
        await manager.load()

        let router = Router(context: DaemonRequestContext.self)
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: AccessMiddleware(gid: gid))
        VMRoutes(manager: manager, startedAt: startedAt).register(on: router)

        try removeStaleSocket()
        let socketPath = configuration.socketPath
        let logger = logger
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .unixDomainSocket(path: socketPath), serverName: "vmmd"),
            onServerRunning: { _ in
                // Bound with mode 0600 (umask); open it to the group only now.
                if let gid { chown(socketPath, 0, gid) }
                chmod(socketPath, gid == nil ? 0o600 : 0o660)
                logger.info("listening on \(socketPath)")
                if SystemdNotifier.notify("READY=1") { logger.info("told systemd READY=1") }
            },
            logger: Logger(label: "vmmd.http"))
        let signalSources = exitOnSignals()
        try await app.runService(gracefulShutdownSignals: [])
        withExtendedLifetime(signalSources) {}
    }

    /// A socket file left by a daemon that died cannot be bound again; anything else at
    /// that path is not ours to remove.
    private func removeStaleSocket() throws {
        var info = stat()
        guard lstat(configuration.socketPath, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw FileError("\(configuration.socketPath) exists and is not a socket")
        }
        unlink(configuration.socketPath)
        logger.info("removed stale socket \(configuration.socketPath)")
    }

    /// Exits at once on SIGTERM or SIGINT. Nothing needs draining: definitions are on disk
    /// as soon as they change, and VMs keep running for the next daemon to adopt.
    private func exitOnSignals() -> [any DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [logger] in
                logger.info("signal \(signalNumber): exiting, VMs keep running")
                exit(0)
            }
            source.resume()
            return source
        }
    }
}
