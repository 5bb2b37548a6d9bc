import Foundation
import Glibc
import Logging
import VMMAPI

/// Where the daemon writes VMs' CPU and memory limits (`VMLimits`), and how.
///
/// - cgroup v2 (`unified`): the VM's own node `<base>/vms/NAME` (`CgroupPlacement`), when
///   `<base>/vms` may use the cpu and memory controllers (its `cgroup.controllers` lists
///   them, i.e. whoever delegated `<base>` enabled them there); the daemon then enables them
///   for the VMs in `<base>/vms/cgroup.subtree_control`, never in `<base>` itself, which holds
///   the daemon's own `daemon/` (docs/architecture.md: why, with systemd 252).
/// - cgroup v1 (`legacy`, a hybrid host whose controllers are v1 hierarchies): a folder of
///   the daemon's own in each of the cpu and memory hierarchies, `<its cgroup>/vmmd-HASH/NAME`
///   (HASH of the runtime directory: daemons side by side, e.g. tests, keep apart; the same
///   daemon restarted finds its folders again).
///   v1 has no rule against processes beside child cgroups, so nothing moves the daemon.
struct ResourceControllers: Sendable {
    enum Layout: Sendable, Equatable {
        case unified(vms: String)
        case legacy(cpu: String, memory: String)
    }

    let layout: Layout

    /// The period of a CPU cap: the default of both cgroup versions.
    static let cpuPeriodMicroseconds = 100_000

    /// Finds where limits can go; nil with the reason when nowhere.
    static func find(vmsDirectory: String?, instance: String) -> Result<ResourceControllers, CgroupPlacement.Reason> {
        if let vms = vmsDirectory,
            let available = try? String(contentsOfFile: "\(vms)/cgroup.controllers", encoding: .utf8)
        {
            let names = Set(available.split(whereSeparator: \.isWhitespace).map(String.init))
            if names.isSuperset(of: ["cpu", "memory"]) {
                if let error = CgroupPlacement.write("+cpu +memory\n", to: "\(vms)/cgroup.subtree_control") {
                    return .failure(.init(message: "cannot enable cpu and memory in \(vms): \(error)"))
                }
                return .success(ResourceControllers(layout: .unified(vms: vms)))
            }
        }
        let mounts = legacyMounts()
        guard let cpu = mounts["cpu"], let memory = mounts["memory"] else {
            return .failure(.init(
                message: "neither the VMs' cgroup v2 node (\(vmsDirectory ?? "none: not delegated")) offers the cpu and "
                    + "memory controllers nor are they mounted as cgroup v1 hierarchies"))
        }
        let own = legacyOwnCgroups()
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in instance.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let folder = "vmmd-\(String(hash, radix: 16))"
        // Made when a VM first needs them and removed with the last VM's folder, so a daemon
        // whose VMs have no limits leaves nothing in the hierarchies.
        let folders = (cpu: "\(cpu)\(own["cpu"].map { $0 == "/" ? "" : $0 } ?? "")/\(folder)",
                       memory: "\(memory)\(own["memory"].map { $0 == "/" ? "" : $0 } ?? "")/\(folder)")
        for parent in [folders.cpu, folders.memory].map({ ($0 as NSString).deletingLastPathComponent })
        where access(parent, W_OK) != 0 {
            return .failure(.init(message: "\(parent) is not writable"))
        }
        return .success(ResourceControllers(layout: .legacy(cpu: folders.cpu, memory: folders.memory)))
    }

    /// Puts `pid` (a `vmm` just spawned, already in its v2 node) under `limits`; for v1,
    /// into the VM's folders. The error says what failed.
    func apply(_ limits: VMLimits, guestMemory: UInt64, pid: pid_t?, vm name: String) -> String? {
        let memory = limits.memoryLimit == true ? guestMemory + VMLimits.memoryOverhead(forGuestMemory: guestMemory) : nil
        let quota = limits.cpus.map { Int(($0 * Double(Self.cpuPeriodMicroseconds)).rounded()) }
        let weight = limits.cpuWeight ?? 100
        var files: [(String, String)]
        var folders: [String]
        switch layout {
        case .unified(let vms):
            let node = "\(vms)/\(name)"
            folders = [node]
            files = [
                ("\(node)/cpu.max", "\(quota.map(String.init) ?? "max") \(Self.cpuPeriodMicroseconds)"),
                ("\(node)/cpu.weight", "\(weight)"),
                ("\(node)/memory.max", memory.map(String.init) ?? "max"),
            ]
        case .legacy(let cpu, let memoryRoot):
            folders = [cpu, "\(cpu)/\(name)", memoryRoot, "\(memoryRoot)/\(name)"]
            files = [
                ("\(cpu)/\(name)/cpu.cfs_period_us", "\(Self.cpuPeriodMicroseconds)"),
                ("\(cpu)/\(name)/cpu.cfs_quota_us", quota.map(String.init) ?? "-1"),
                // v2's weight 100 is v1's 1024 shares.
                ("\(cpu)/\(name)/cpu.shares", "\(max(2, weight * 1024 / 100))"),
                ("\(memoryRoot)/\(name)/memory.limit_in_bytes", memory.map(String.init) ?? "-1"),
            ]
            if let pid { files += ["\(cpu)/\(name)", "\(memoryRoot)/\(name)"].map { ("\($0)/cgroup.procs", "\(pid)") } }
        }
        for folder in folders where mkdir(folder, 0o755) != 0 && errno != EEXIST {
            return "cannot create \(folder): \(Linux.errorMessage)"
        }
        for (file, value) in files {
            if let error = CgroupPlacement.write(value + "\n", to: file) { return "cannot write \(value) to \(file): \(error)" }
        }
        return nil
    }

    /// Removes the VM's v1 folders once its `vmm` has ended (the v2 node is `CgroupPlacement`'s),
    /// and the daemon's folder with its last VM (while others remain, that rmdir fails).
    func release(vm name: String) {
        guard case .legacy(let cpu, let memory) = layout else { return }
        for folder in ["\(cpu)/\(name)", "\(memory)/\(name)", cpu, memory] { rmdir(folder) }
    }

    /// CPU time the VM's cgroup was held back by its cap, in seconds; nil without a cgroup.
    func throttledSeconds(vm name: String) -> Double? {
        let (file, key, scale): (String, String, Double) = switch layout {
        case .unified(let vms): ("\(vms)/\(name)/cpu.stat", "throttled_usec", 1e-6)
        case .legacy(let cpu, _): ("\(cpu)/\(name)/cpu.stat", "throttled_time", 1e-9)
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key + " ") }),
            let value = Double(line.split(separator: " ")[1])
        else { return nil }
        return value * scale
    }

    /// cgroup v1 hierarchies by controller name, from /proc/self/mountinfo.
    private static func legacyMounts() -> [String: String] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [:] }
        var mounts: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2, halves[1].hasPrefix("cgroup ") else { continue }
            let fields = halves[0].split(separator: " "), options = halves[1].split(separator: " ").last ?? ""
            guard fields.count >= 5, fields[3] == "/" else { continue }
            for option in options.split(separator: ",") where option == "cpu" || option == "memory" {
                mounts[String(option)] = String(fields[4])
            }
        }
        return mounts
    }

    /// This process's cgroup in each v1 hierarchy (`N:cpu,cpuacct:/PATH` lines).
    private static func legacyOwnCgroups() -> [String: String] {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return [:] }
        var paths: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2).map(String.init)
            guard parts.count == 3 else { continue }
            for controller in parts[1].split(separator: ",") { paths[String(controller)] = parts[2] }
        }
        return paths
    }
}
