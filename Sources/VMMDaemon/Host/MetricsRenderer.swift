import Foundation
import VMMAPI

/// The Prometheus text exposition of the daemon's state, written by hand.
struct MetricsRenderer {
    var counts: [VMState: Int]
    var vms: [(definition: VMDefinition, status: ControlChannel.Status?)]
    var uptime: Double
    /// The host's same-page merging, if the kernel has it.
    var pageMerging: HostPageMerging? = HostProbe.pageMerging()
    /// Seconds a VM's cgroup was held back by its CPU cap (`limits.cpus`); nil without one.
    var cpuThrottled: (String) -> Double? = { _ in nil }

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
        let running = vms.compactMap { vm in vm.status.map { (name: vm.definition.name, status: $0) } }
        lines += memoryMetrics(running, family)
        lines += rateLimitMetrics(running, family)
        family("vmm_vm_cpu_throttled_seconds_total", "counter", "Time each running VM's vmm was held back by its CPU cap (limits.cpus).")
        for vm in running {
            guard let seconds = cpuThrottled(vm.name) else { continue }
            lines.append("vmm_vm_cpu_throttled_seconds_total{vm=\"\(vm.name)\"} \(seconds)")
        }
        family("vmmd_uptime_seconds", "gauge", "Seconds since vmmd started.")
        lines.append("vmmd_uptime_seconds \(uptime)")
        return lines.joined(separator: "\n") + "\n"
    }

    private typealias Family = (String, String, String) -> Void

    /// RSS, balloon and guest free memory per running VM; KSM per VM and for the host.
    private func memoryMetrics(_ running: [(name: String, status: ControlChannel.Status)], _ family: Family) -> [String] {
        var lines: [String] = []
        family("vmm_vm_rss_bytes", "gauge", "Resident memory of each running VM's vmm process (guest pages it touched included).")
        for vm in running {
            guard let rss = HostProbe.kilobytes("VmRSS:", in: "/proc/\(vm.status.pid)/status") else { continue }
            lines.append("vmm_vm_rss_bytes{vm=\"\(vm.name)\"} \(rss)")
        }
        family("vmm_vm_balloon_bytes", "gauge", "Guest memory in each running VM's balloon, as its driver reports it.")
        for vm in running {
            guard let balloon = vm.status.balloon else { continue }
            lines.append("vmm_vm_balloon_bytes{vm=\"\(vm.name)\"} \(balloon.actual)")
        }
        family("vmm_vm_guest_free_memory_bytes", "gauge", "Free memory the guest's balloon driver last reported.")
        for vm in running {
            guard let free = vm.status.balloon?.stats?["free_memory"] else { continue }
            lines.append("vmm_vm_guest_free_memory_bytes{vm=\"\(vm.name)\"} \(free)")
        }
        family("vmm_vm_ksm_merging_pages", "gauge", "Pages of each running VM's vmm that KSM merged (/proc/PID/ksm_merging_pages).")
        for vm in running {
            guard let pages = HostProbe.number(in: "/proc/\(vm.status.pid)/ksm_merging_pages") else { continue }
            lines.append("vmm_vm_ksm_merging_pages{vm=\"\(vm.name)\"} \(pages)")
        }
        if let ksm = pageMerging {
            family("vmm_host_ksm_pages_shared", "gauge", "Distinct pages KSM keeps once for several users.")
            lines.append("vmm_host_ksm_pages_shared \(ksm.pagesShared)")
            family("vmm_host_ksm_pages_sharing", "gauge", "Further users of KSM's shared pages: pages saved.")
            lines.append("vmm_host_ksm_pages_sharing \(ksm.pagesSharing)")
            family("vmm_host_ksm_saved_bytes", "gauge", "Memory KSM saves on the host.")
            lines.append("vmm_host_ksm_saved_bytes \(ksm.savedBytes)")
        }
        return lines
    }

    /// Waits and throttled time of each disk's and NIC direction's rate limiter.
    private func rateLimitMetrics(_ running: [(name: String, status: ControlChannel.Status)], _ family: Family) -> [String] {
        var waits: [String] = [], throttled: [String] = []
        for vm in running {
            var limiters: [(labels: String, limiter: ControlChannel.Status.Limiter)] = []
            for (index, disk) in (vm.status.disks ?? []).enumerated() { limiters.append(("device=\"disk\(index)\"", disk)) }
            for (index, network) in (vm.status.networks ?? []).enumerated() {
                limiters.append(("device=\"net\(index)\",direction=\"rx\"", network.rx))
                limiters.append(("device=\"net\(index)\",direction=\"tx\"", network.tx))
            }
            for (labels, limiter) in limiters {
                waits.append("vmm_vm_rate_limit_waits_total{vm=\"\(vm.name)\",\(labels)} \(limiter.waits)")
                throttled.append(
                    "vmm_vm_rate_limit_throttled_seconds_total{vm=\"\(vm.name)\",\(labels)} \(Double(limiter.throttledMilliseconds) / 1000)")
            }
        }
        var lines: [String] = []
        family("vmm_vm_rate_limit_waits_total", "counter", "Times a disk's or NIC direction's queue waited for its rate limiter.")
        lines += waits
        family("vmm_vm_rate_limit_throttled_seconds_total", "counter", "Time a disk's or NIC direction's queue waited for its rate limiter.")
        return lines + throttled
    }
}
