import ArgumentParser
import Sizes
import VMMAPI

/// `vmctl host`: the host; `vmctl host show` (the default) says what it offers.
struct HostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host",
        abstract: "Show the host, or drain it of VMs for maintenance.",
        subcommands: [HostShowCommand.self, HostDrainCommand.self, HostUndrainCommand.self],
        defaultSubcommand: HostShowCommand.self)
}

/// `vmctl host show`: what the host offers, and whether it is draining.
struct HostShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show the host's CPUs, memory, KVM, VM counts and mode (normal or draining).",
        discussion: "--json prints the API's HostInfo object.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON (pretty, sorted keys).")
    var json = false

    func run() async throws {
        let host = try await global.client().get(Routes.host, as: HostInfo.self)
        print(json ? try JSONOutput.document(host) : Self.fields(host))
    }

    static func fields(_ host: HostInfo) -> String {
        TextTable.fields([
            ("vmmd version", host.version),
            ("cpus", String(host.cpus)),
            ("memory", ByteSize.format(host.memory)),
            ("kvm api", String(host.kvm.apiVersion)),
            ("max vcpus", String(host.kvm.maxVCPUs)),
            ("recommended vcpus", String(host.kvm.recommendedVCPUs)),
            ("pvm", host.kvm.pvm ? "yes (software virtualization, slow guest kernels)" : "no"),
            ("vms", VMState.allCases.map { "\(host.vms[$0.rawValue] ?? 0) \($0.rawValue)" }.joined(separator: ", ")),
        ] + (host.availableMemory.map { [("available memory", ByteSize.format($0))] } ?? [])
          + (host.mode.map { [("mode", $0 == "draining" ? "draining (VMs do not start here; vmctl host undrain)" : $0)] } ?? []))
    }
}
