import Foundation
import Glibc
import KVM
import VMMAPI

/// Facts about this host: what /dev/kvm offers, CPUs and memory.
enum HostProbe {
    /// KVM facts; zeros when /dev/kvm cannot be used.
    static func kvm() -> HostInfo.KVM {
        guard let kvm = try? KVMSystem() else {
            return HostInfo.KVM(apiVersion: 0, maxVCPUs: 0, recommendedVCPUs: 0, pvm: KVMSystem.isPVM)
        }
        return HostInfo.KVM(
            apiVersion: Int(KVMSystem.apiVersion), maxVCPUs: kvm.check(.maxVCPUs),
            recommendedVCPUs: kvm.check(.recommendedVCPUs), pvm: KVMSystem.isPVM)
    }

    static var cpus: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// MemTotal from /proc/meminfo, in bytes.
    static var memory: UInt64 { meminfo("MemTotal:") }

    /// MemAvailable from /proc/meminfo, in bytes: what a new VM can get without swapping.
    static var availableMemory: UInt64 { meminfo("MemAvailable:") }

    private static func meminfo(_ field: String) -> UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kib = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) else { return 0 }
        return kib * 1024
    }
}
