import Foundation
import Glibc
import VMMAPI

/// Facts about this host: what /dev/kvm offers, CPUs and memory.
enum HostProbe {
    // _IO(KVMIO=0xAE, nr): the request codes of the two ioctls used here.
    private static let getAPIVersion: UInt = 0xAE00
    private static let checkExtension: UInt = 0xAE03
    private static let capabilityNrVCPUs: Int32 = 9
    private static let capabilityMaxVCPUs: Int32 = 66

    /// KVM facts; zeros when /dev/kvm cannot be opened.
    static func kvm() -> HostInfo.KVM {
        let pvm = FileManager.default.fileExists(atPath: "/sys/module/kvm_pvm")
        let fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return HostInfo.KVM(apiVersion: 0, maxVCPUs: 0, recommendedVCPUs: 0, pvm: pvm) }
        defer { close(fd) }
        return HostInfo.KVM(
            apiVersion: Int(ioctl(fd, getAPIVersion, 0)),
            maxVCPUs: Int(ioctl(fd, checkExtension, capabilityMaxVCPUs)),
            recommendedVCPUs: Int(ioctl(fd, checkExtension, capabilityNrVCPUs)),
            pvm: pvm)
    }

    static var cpus: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// MemTotal from /proc/meminfo, in bytes.
    static var memory: UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
              let kib = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) else { return 0 }
        return kib * 1024
    }
}
