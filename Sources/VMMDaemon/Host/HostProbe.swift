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

    /// Where the kernel's same-page merging is controlled and counted.
    static let pageMergingDirectory = "/sys/kernel/mm/ksm"

    /// KSM's state and savings; nil when the kernel has no KSM.
    static func pageMerging() -> HostPageMerging? {
        func value(_ name: String) -> UInt64? { number(in: "\(pageMergingDirectory)/\(name)") }
        guard let run = value("run"), let shared = value("pages_shared"), let sharing = value("pages_sharing") else {
            return nil
        }
        return HostPageMerging(
            running: run == 1, pagesShared: shared, pagesSharing: sharing,
            savedBytes: sharing * UInt64(sysconf(Int32(_SC_PAGESIZE))))
    }

    /// The decimal number a sysfs or /proc file holds.
    static func number(in file: String) -> UInt64? {
        (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Starts the kernel's same-page merging for the whole host (`vmmd --enable-ksm`);
    /// an error message, or nil.
    static func enablePageMerging() -> String? {
        let path = "\(pageMergingDirectory)/run"
        guard FileManager.default.fileExists(atPath: path) else { return "this kernel has no KSM (\(path) is missing)" }
        do {
            try "1\n".write(toFile: path, atomically: false, encoding: .utf8)
            return nil
        } catch {
            return "cannot write 1 to \(path): \(error.localizedDescription)"
        }
    }

    private static func meminfo(_ field: String) -> UInt64 { kilobytes(field, in: "/proc/meminfo") ?? 0 }

    /// A `NAME: N kB` line of a /proc file (meminfo, PID/status), in bytes.
    static func kilobytes(_ field: String, in file: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kib = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) else { return nil }
        return kib * 1024
    }
}
