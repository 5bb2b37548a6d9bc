import VMMAPI

/// The Prometheus text exposition of the daemon's state, written by hand.
struct MetricsRenderer {
    var counts: [VMState: Int]
    var vms: [(definition: VMDefinition, status: ControlChannel.Status?)]
    var uptime: Double

    func render() -> String {
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
        }
        family("vmm_vms", "gauge", "VMs by state.")
        for state in VMState.allCases {
            lines.append("vmm_vms{state=\"\(state.rawValue)\"} \(counts[state] ?? 0)")
        }
        family("vmm_vm_vcpus", "gauge", "vCPUs of each VM.")
        for vm in vms { lines.append("vmm_vm_vcpus{vm=\"\(vm.definition.name)\"} \(vm.definition.cpus)") }
        family("vmm_vm_memory_bytes", "gauge", "Guest RAM of each VM.")
        for vm in vms { lines.append("vmm_vm_memory_bytes{vm=\"\(vm.definition.name)\"} \(vm.definition.memory)") }
        family("vmm_vm_exits_total", "counter", "VM exits of each running VM by reason.")
        for vm in vms {
            guard let exits = vm.status?.exits else { continue }
            for (reason, count) in [("io", exits.io), ("mmio", exits.mmio), ("other", exits.other)] {
                lines.append("vmm_vm_exits_total{vm=\"\(vm.definition.name)\",reason=\"\(reason)\"} \(count)")
            }
        }
        family("vmmd_uptime_seconds", "gauge", "Seconds since vmmd started.")
        lines.append("vmmd_uptime_seconds \(uptime)")
        return lines.joined(separator: "\n") + "\n"
    }
}
