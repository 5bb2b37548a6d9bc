import ArgumentParser
import Foundation
import Logging
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

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "vmmd")
        logger.logLevel = .info
        let configuration = DaemonConfiguration(
            socketPath: socket, stateDirectory: stateDir, runtimeDirectory: runtimeDir, group: group,
            vmmPath: vmm ?? Self.siblingVMM())
        logger.info("vmmd \(DaemonVersion.current) starting: state \(stateDir), runtime \(runtimeDir), vmm \(configuration.vmmPath)")
        try await Daemon(configuration: configuration, logger: logger).run()
    }

    /// The `vmm` in the folder of this executable.
    private static func siblingVMM() -> String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return ((executable as NSString).deletingLastPathComponent as NSString).appendingPathComponent("vmm")
    }
}
