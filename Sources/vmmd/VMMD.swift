import ArgumentParser
import Foundation
import Logging
import VMMAPI
import VMMDaemon

/// `vmmd`: the vmm daemon. Runs in the foreground and logs to standard error.
@main
struct VMMD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmmd", abstract: "Runs the vmm daemon: VM definitions, vmm processes and the REST API.")

    @Option(help: "The REST API's Unix socket.")
    var socket = "/run/vmm/vmmd.sock"

    @Option(help: "Where VM definitions are kept.")
    var stateDir = "/var/lib/vmm"

    @Option(help: "Where each running VM's sockets and files are kept.")
    var runtimeDir = "/run/vmm"

    @Option(help: "Members of this group may use the API.")
    var group = "kvm"

    @Option(help: "The vmm executable (default: the vmm beside vmmd).")
    var vmm: String?

    @Option(help: ArgumentHelp(
        "Also serve the API on this TCP address, with mutual TLS (needs --tls-cert, --tls-key, --tls-ca).",
        valueName: "host:port"))
    var listen: String?

    @Option(help: ArgumentHelp("This host's certificate (PEM), for --listen.", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The private key of --tls-cert (PEM).", valueName: "file"))
    var tlsKey: String?

    @Option(help: ArgumentHelp("The CA that must have signed every client's certificate (PEM).", valueName: "file"))
    var tlsCa: String?

    @Option(help: ArgumentHelp("The TCP port for migration streams from peers (default: the --listen port + 1).", valueName: "port"))
    var migrationPort: Int?

    @Option(help: ArgumentHelp("The largest API request body (413 past it).", valueName: "bytes"))
    var apiMaxBody = APILimits().maxBodySize

    @Option(help: ArgumentHelp("The largest API request line and headers together (431 past it).", valueName: "bytes"))
    var apiMaxHeader = APILimits().maxHeaderSize

    @Option(help: ArgumentHelp(
        "Open API connections at most; past it the longest waiting one is closed, or a new one gets 503.", valueName: "count"))
    var apiMaxConnections = APILimits().maxConnections

    @Option(help: ArgumentHelp("Close an API connection idle this long.", valueName: "seconds"))
    var apiIdleTimeout = Int(APILimits().idleTimeout.components.seconds)

    @Option(help: ArgumentHelp("A request must arrive whole within this from its first byte (408 past it).", valueName: "seconds"))
    var apiRequestTimeout = Int(APILimits().requestTimeout.components.seconds)

    @Option(help: ArgumentHelp(
        "Join the cluster whose state is in etcd at these client URLs (needs --host-name and --listen; https:// URLs use the --tls-* files).",
        valueName: "etcd=url[,url...]"))
    var cluster: String?

    @Option(help: ArgumentHelp("This host's name in the cluster (a-z, 0-9 and -).", valueName: "name"))
    var hostName: String?

    @Option(help: ArgumentHelp("The TTL of this host's etcd lease, in seconds (at least 2).", valueName: "seconds"))
    var leaseTtl: Int64 = ClusterConfiguration.defaultLeaseTTL

    @Option(help: ArgumentHelp("How often the lease is renewed, in seconds (at most half the TTL).", valueName: "seconds"))
    var keepaliveInterval: Double = 1

    @Option(help: ArgumentHelp(
        "Stop this host's HA VMs this long after the lease's last confirmed renewal when no renewal succeeds, in seconds "
            + "(default 3, less if the TTL needs it; must leave 1 s before the lease can expire).", valueName: "seconds"))
    var fenceAfter: Double?

    @Option(help: ArgumentHelp(
        "Guest RAM the running VMs may be promised per byte of host memory; starts past it are refused (409).",
        valueName: "ratio"))
    var memoryOvercommit = AdmissionPolicy.defaultMemoryOvercommit

    @Option(help: ArgumentHelp(
        "vCPUs the running VMs may be promised per host CPU; starts past it are refused (409).", valueName: "ratio"))
    var cpuOvercommit = AdmissionPolicy.defaultCPUOvercommit

    @Flag(help: ArgumentHelp(
        "Turn on the kernel's same-page merging for the host at start (writes 1 to /sys/kernel/mm/ksm/run): "
            + "VMs defined with mergePages then share identical pages."))
    var enableKsm = false

    @Option(help: ArgumentHelp(
        "The user and group ids jailed VMs run under, one per running VM (docs/jail.md).", valueName: "first-last"))
    var vmUidRange = "\(JailPolicy.defaultIDs.lowerBound)-\(JailPolicy.defaultIDs.upperBound)"

    @Option(help: ArgumentHelp(
        "The folder where the daemons of this host claim their jailed VMs' ids, so that no two VMs of any of them "
            + "share one; every vmmd of a host must use the same (docs/jail.md).", valueName: "dir"))
    var jailIdClaims = JailPolicy.defaultClaimsDirectory

    @Flag(help: "Run every vmm as root in the host's namespaces instead of jailed (the default when vmmd runs as root).")
    var noJail = false

    /// The jail the options describe: on by default for a daemon running as root with the
    /// capabilities it takes; nil and why not otherwise.
    private func jailPolicy() throws -> (policy: JailPolicy?, why: String) {
        guard var policy = JailPolicy(parsing: vmUidRange) else {
            throw ValidationError("--vm-uid-range '\(vmUidRange)' must be FIRST-LAST, ids from 1 to 4294967294, e.g. 100000-165535")
        }
        guard jailIdClaims.hasPrefix("/") else {
            throw ValidationError("--jail-id-claims '\(jailIdClaims)' must be an absolute path, e.g. \(JailPolicy.defaultClaimsDirectory)")
        }
        policy.claimsDirectory = jailIdClaims
        if noJail { return (nil, "--no-jail") }
        if geteuid() != 0 { return (nil, "vmmd is not root") }
        let missing = JailPolicy.missingCapabilities()
        if !missing.isEmpty { return (nil, "vmmd lacks \(missing.joined(separator: ", ")); docs/jail.md") }
        return (policy, "")
    }

    func validate() throws {
        _ = try jailPolicy()
        for (name, ratio) in [("--memory-overcommit", memoryOvercommit), ("--cpu-overcommit", cpuOvercommit)]
        where !ratio.isFinite || ratio <= 0 {
            throw ValidationError("\(name) must be a ratio above 0 (1 promises what the host has), not \(ratio)")
        }
        _ = try clusterConfiguration(listener: try listener())
        for (name, value) in [
            ("--api-max-body", apiMaxBody), ("--api-max-header", apiMaxHeader), ("--api-max-connections", apiMaxConnections),
            ("--api-idle-timeout", apiIdleTimeout), ("--api-request-timeout", apiRequestTimeout),
        ] where value < 1 {
            throw ValidationError("\(name) must be at least 1, not \(value)")
        }
    }

    /// Cluster mode as the options describe it; refuses cluster options without --cluster,
    /// and --cluster without a name or a TLS listener (peers reach each other there).
    private func clusterConfiguration(listener: TLSListener?) throws -> ClusterConfiguration? {
        guard let cluster else {
            guard hostName == nil, leaseTtl == ClusterConfiguration.defaultLeaseTTL, keepaliveInterval == 1, fenceAfter == nil else {
                throw ValidationError("--host-name, --lease-ttl, --keepalive-interval and --fence-after only apply with --cluster etcd=URL[,URL...]")
            }
            return nil
        }
        guard let hostName else { throw ValidationError("--cluster needs --host-name NAME: this host's name in the cluster") }
        guard let listener else {
            throw ValidationError("--cluster needs --listen HOST:PORT with --tls-cert, --tls-key, --tls-ca: hosts reach each other there")
        }
        guard keepaliveInterval.isFinite, keepaliveInterval > 0 else { throw ValidationError("--keepalive-interval must be above 0") }
        if let fenceAfter, !fenceAfter.isFinite || fenceAfter <= 0 { throw ValidationError("--fence-after must be above 0") }
        do {
            return try ClusterConfiguration(
                cluster: cluster, hostName: hostName, etcdTLS: listener.files, leaseTTL: leaseTtl,
                keepAliveInterval: .milliseconds(Int64(keepaliveInterval * 1000)),
                fenceAfter: fenceAfter.map { .milliseconds(Int64($0 * 1000)) })
        } catch {
            throw ValidationError(error.description)
        }
    }

    private var apiLimits: APILimits {
        var limits = APILimits()
        limits.maxBodySize = apiMaxBody
        limits.maxHeaderSize = apiMaxHeader
        limits.maxConnections = apiMaxConnections
        limits.idleTimeout = .seconds(apiIdleTimeout)
        limits.requestTimeout = .seconds(apiRequestTimeout)
        return limits
    }

    /// The TLS listener the options describe; refuses TCP without TLS, and TLS options
    /// without --listen.
    private func listener() throws -> TLSListener? {
        guard let listen else {
            guard tlsCert == nil, tlsKey == nil, tlsCa == nil, migrationPort == nil else {
                throw ValidationError("--tls-cert, --tls-key, --tls-ca and --migration-port only apply with --listen HOST:PORT")
            }
            return nil
        }
        guard let tlsCert, let tlsKey, let tlsCa else {
            throw ValidationError(
                "--listen serves the API over mutual TLS only: add --tls-cert FILE --tls-key FILE --tls-ca FILE "
                    + "(scripts/make-certificates.sh makes them)")
        }
        let address: HostAndPort
        do {
            address = try HostAndPort(parsing: listen)
        } catch {
            throw ValidationError("--listen: \(error)")
        }
        let listener = TLSListener(
            address: address, files: TLSFiles(certificate: tlsCert, key: tlsKey, certificateAuthority: tlsCa),
            migrationPort: migrationPort)
        guard (1...65535).contains(listener.migrationPort), listener.migrationPort != address.port else {
            throw ValidationError("--migration-port must be a port from 1 to 65535 other than the --listen port")
        }
        return listener
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "vmmd")
        logger.logLevel = .info
        let listener = try listener()
        var configuration = DaemonConfiguration(
            socketPath: socket, stateDirectory: stateDir, runtimeDirectory: runtimeDir, group: group,
            vmmPath: vmm ?? Self.siblingVMM(), listener: listener, cluster: try clusterConfiguration(listener: listener),
            apiLimits: apiLimits,
            admission: AdmissionPolicy(memoryOvercommit: memoryOvercommit, cpuOvercommit: cpuOvercommit),
            jail: try jailPolicy().policy)
        configuration.enablePageMerging = enableKsm
        logger.info("vmmd \(DaemonVersion.current) starting: state \(stateDir), runtime \(runtimeDir), vmm \(configuration.vmmPath)")
        let why = try jailPolicy().why
        logger.info("\(configuration.jail.map { "VMs run jailed under ids \($0.ids.lowerBound)-\($0.ids.upperBound)" } ?? "VMs run unjailed (\(why))")")
        try await Daemon(configuration: configuration, logger: logger).run()
    }

    /// The `vmm` in the folder of this executable.
    private static func siblingVMM() -> String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return ((executable as NSString).deletingLastPathComponent as NSString).appendingPathComponent("vmm")
    }
}
