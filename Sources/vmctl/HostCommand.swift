import ArgumentParser
import Sizes
import VMMAPI

/// `vmctl host`: what the host offers.
struct HostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host",
        abstract: "Show the host's CPUs, memory, KVM and VM counts.",
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
        ])
    }
}
