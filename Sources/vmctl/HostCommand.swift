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
        abstract: "Show the host's CPUs, memory, KVM, VM counts, what its VMs are promised and its mode.",
        discussion: "--json prints the API's HostInfo object.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON (pretty, sorted keys).")
    var json = false

    func run() async throws {
        let host = try await global.client().get(Routes.host, as: HostInfo.self)
        print(json ? try JSONOutput.document(host) : Self.fields(host))
    }

    static func fields(_ host: HostInfo) -> String {
        var fields: [(String, String)] = [
            ("vmmd version", host.version),
            ("cpus", String(host.cpus)),
            ("memory", ByteSize.format(host.memory)),
            ("kvm api", String(host.kvm.apiVersion)),
            ("max vcpus", String(host.kvm.maxVCPUs)),
            ("recommended vcpus", String(host.kvm.recommendedVCPUs)),
            ("pvm", host.kvm.pvm ? "yes (software virtualization, slow guest kernels)" : "no"),
            ("vms", VMState.allCases.map { "\(host.vms[$0.rawValue] ?? 0) \($0.rawValue)" }.joined(separator: ", ")),
        ]
        if let available = host.availableMemory { fields.append(("available memory", ByteSize.format(available))) }
        if let committed = host.committed { fields += commitment(committed) }
        if let ksm = host.ksm { fields.append(("same-page merging", pageMerging(ksm))) }
        if let mode = host.mode {
            fields.append(("mode", mode == "draining" ? "draining (VMs do not start here; vmctl host undrain)" : mode))
        }
        return TextTable.fields(fields)
    }

    /// `on, 1200 pages shared, 5400 sharing: 21.1 MiB saved` (KSM's counters).
    static func pageMerging(_ ksm: HostPageMerging) -> String {
        let mebibytes = Double(ksm.savedBytes) / Double(1 << 20)
        return "\(ksm.running ? "on" : "off (vmmd --enable-ksm turns it on)"), \(ksm.pagesShared) pages shared, "
            + "\(ksm.pagesSharing) sharing: \((mebibytes * 10).rounded() / 10) MiB saved"
    }

    /// `committed memory  1.5G of 24.0G (overcommit 1.0)` and the same for vCPUs.
    static func commitment(_ committed: HostCommitment) -> [(String, String)] {
        [
            ("committed memory",
             "\(ByteSize.format(committed.memory)) of \(ByteSize.format(committed.memoryCapacity)) (overcommit \(committed.memoryOvercommit))"),
            ("committed vcpus", "\(committed.vcpus) of \(committed.vcpuCapacity) (overcommit \(committed.cpuOvercommit))"),
        ]
    }
}
