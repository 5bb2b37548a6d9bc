import Dispatch
import Foundation
import Glibc
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import VMMAPI

/// The daemon: loads VMs, re-adopts running ones, serves the REST API on the Unix socket
/// (and on a TCP port with mutual TLS when configured) and tells systemd when it is ready.
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
        // Each VM holds two of the daemon's descriptors (its pidfd and console connection):
        // the usual soft limit of 1024 (systemd's default for services) would stop a host
        // at about 500 VMs, the hard one (524288 there) at none it can run.
        let openFiles = Linux.raiseOpenFileLimit()
        logger.info("open files: up to \(openFiles)")
        // Bad TLS files stop the daemon before it touches any VM.
        let tlsConfiguration = try configuration.listener.map { try $0.files.serverConfiguration() }
        let gid = GroupDirectory.gid(of: configuration.group)
        if gid == nil {
            logger.warning("group \(configuration.group) does not exist; the API is open to root only")
        }
        if configuration.enablePageMerging {
            if let problem = HostProbe.enablePageMerging() {
                logger.warning("same-page merging: \(problem); VMs with mergePages are not merged")
            } else {
                logger.info("same-page merging (KSM) is on for the host")
            }
        }
        let manager = try VMManager(configuration: configuration, logger: logger)
        // Before load: a VM adopted mid-migration may need to ask its destination.
        if let listener = configuration.listener {
            try await manager.enablePeers(try PeerNetwork(listener), listeningOn: listener.address.host)
        }
        await manager.load()
        let cluster = try await joinCluster(mode: await manager.mode)
        if let cluster { await manager.joined(cluster) }
        if let cluster { await manager.takeClusterDuties(cluster) }

        let limits = configuration.apiLimits
        let router = Router(context: DaemonRequestContext.self)
        router.add(middleware: RequestLogMiddleware())
        let methods = MethodTable()
        router.add(middleware: APIErrorMiddleware(methods: methods))
        let access = AccessMiddleware(gid: gid)
        router.add(middleware: access)
        if cluster != nil { router.add(middleware: ClusterForwardMiddleware(manager: manager, maxBodySize: limits.maxBodySize)) }
        VMRoutes(manager: manager, cluster: cluster, startedAt: startedAt, maxBodySize: limits.maxBodySize).register(on: router)
        methods.load(router.routes)

        try removeStaleSocket()
        let socketPath = configuration.socketPath
        let logger = logger
        let readiness = ServerReadiness(servers: configuration.listener == nil ? 1 : 2)
        // One budget of connections and deadlines for both listeners.
        let connections = ConnectionRegistry(limits: limits, logger: Logger(label: "vmmd.http"))
        connections.startSweeping(on: MultiThreadedEventLoopGroup.singleton.next())
        let consoles = ConsoleUpgrader.Needs(manager: manager, access: access, logger: logger)
        @Sendable func serverIsRunning() async {
            if await readiness.serverIsRunning(), SystemdNotifier.notify("READY=1") { logger.info("told systemd READY=1") }
        }
        var servers = [(socketPath, Application(
            router: router,
            server: HTTPServerBuilder { GuardedHTTP1Channel(responder: $0, registry: connections, answersRefusals: true, consoles: consoles) },
            configuration: ApplicationConfiguration(address: .unixDomainSocket(path: socketPath), serverName: "vmmd"),
            onServerRunning: { _ in
                // Bound with mode 0600 (umask); open it to the group only now. Under the
                // unit (Group=) it was created with the group already: no chown needed,
                // which its seccomp filter would refuse.
                var socketStatus = stat()
                if let gid, stat(socketPath, &socketStatus) != 0 || socketStatus.st_gid != gid { chown(socketPath, 0, gid) }
                chmod(socketPath, gid == nil ? 0o600 : 0o660)
                logger.info("listening on \(socketPath)")
                await serverIsRunning()
            },
            logger: Logger(label: "vmmd.http")))]
        if let listener = configuration.listener, let tlsConfiguration {
            let address = listener.address
            servers.append((address.description, Application(
                router: router,
                server: .mutualTLS(tlsConfiguration, connections: connections, consoles: consoles, logger: logger),
                configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port), serverName: "vmmd"),
                onServerRunning: { _ in
                    logger.info("listening on \(address) (TLS; clients need a certificate from \(listener.files.certificateAuthority))")
                    await serverIsRunning()
                },
                logger: Logger(label: "vmmd.http"))))
        }
        let signalSources = exitOnSignals(leaving: cluster, manager: manager)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (address, server) in servers {
                group.addTask {
                    do {
                        try await server.runService(gracefulShutdownSignals: [])
                    } catch let error as IOError {
                        throw FileError("cannot serve the API on \(address): \(String(cString: strerror(error.errnoCode)))"
                            + " (is another vmmd using it?)", code: error.errnoCode)
                    }
                }
            }
            // Either server ending (it could not bind) ends the daemon.
            try await group.next()
            group.cancelAll()
        }
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

    /// In cluster mode, registers this host in etcd (docs/cluster.md, section 6).
    private func joinCluster(mode: String) async throws -> ClusterMembership? {
        guard let cluster = configuration.cluster, let listener = configuration.listener else { return nil }
        let record = ClusterHost(
            name: cluster.hostName, address: "https://\(listener.address)", cpus: HostProbe.cpus, memory: HostProbe.memory,
            mode: mode, version: DaemonVersion.current)
        let membership = try ClusterMembership(
            configuration: cluster, record: record, stateDirectory: configuration.stateDirectory, logger: logger)
        try await membership.join()
        return membership
    }

    /// Exits at once on SIGTERM or SIGINT. Nothing needs draining: definitions are on disk
    /// as soon as they change, and VMs keep running for the next daemon to adopt. A cluster
    /// member first revokes its lease (for at most 2 s), so its record vanishes now.
    private func exitOnSignals(leaving cluster: ClusterMembership?, manager: VMManager) -> [any DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [logger] in
                logger.info("signal \(signalNumber): exiting, VMs keep running")
                if let cluster {
                    let left = DispatchSemaphore(value: 0)
                    Task {
                        // Revoking would delete the owner keys of HA VMs that run on: the
                        // manager would start them elsewhere while they still run here.
                        if await manager.runsHAVMs {
                            logger.warning("cluster: not revoking the lease: HA VMs run here; they are fenced when it is no longer renewed, and the cluster restarts them")
                        } else {
                            await cluster.leave()
                        }
                        left.signal()
                    }
                    _ = left.wait(timeout: .now() + 2)
                }
                exit(0)
            }
            source.resume()
            return source
        }
    }
}
