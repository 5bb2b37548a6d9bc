import ArgumentParser
import VMMAPI

/// `vmctl stats`: the host kernel's counters of a running VM.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show the host kernel's counters of a running VM and its vCPUs.",
        discussion: """
            KVM's own statistics since the VM's current boot, one per line: 'vm NAME VALUE' and \
            'vcpu N NAME VALUE', names as the host kernel gives them (exits, insn_emulation, \
            irq_injections, halt_exits, ...). --json prints the API's object: \
            {"vm": {...}, "vcpus": [{"id": 0, "counters": {...}}]}.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument

    @Flag(help: "Print JSON (pretty, sorted keys).")
    var json = false

    func run() async throws {
        let statistics = try await global.client().get(Routes.statistics(vm.name), as: VMStatistics.self)
        print(json ? try JSONOutput.document(statistics) : Self.lines(statistics))
    }

    static func lines(_ statistics: VMStatistics) -> String {
        let vm = statistics.vm.sorted { $0.key < $1.key }.map { "vm \($0.key) \($0.value)" }
        let vcpus = statistics.vcpus.flatMap { vcpu in
            vcpu.counters.sorted { $0.key < $1.key }.map { "vcpu \(vcpu.id) \($0.key) \($0.value)" }
        }
        return (vm + vcpus).joined(separator: "\n")
    }
}
