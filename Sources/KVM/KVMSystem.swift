#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// An open handle on `/dev/kvm`: capability queries and VM creation.
///
/// Opening fails with one sentence that says what to do when the device is missing,
/// not accessible, or speaks another API version than 12.
public final class KVMSystem: Sendable {
    /// The only KVM API version there has ever been.
    public static let apiVersion: Int32 = 12

    let fd: Int32
    /// Size of the per-vCPU `kvm_run` mapping.
    public let vcpuMappingSize: Int

    public init(path: String = "/dev/kvm") throws(KVMError) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw KVMError(
                operation: "open \(path)", code: code,
                explanation: Self.explainOpenFailure(path: path, code: code))
        }
        self.fd = fd
        do throws(KVMError) {
            let version = try Syscall.ioctl(fd, ckvm_get_api_version(), "KVM_GET_API_VERSION")
            guard version == Self.apiVersion else {
                throw KVMError(
                    operation: "KVM_GET_API_VERSION", code: 0,
                    explanation: "\(path) speaks KVM API version \(version), "
                        + "but vmm needs version \(Self.apiVersion): this kernel's KVM is not supported")
            }
            vcpuMappingSize = Int(
                try Syscall.ioctl(fd, ckvm_get_vcpu_mmap_size(), "KVM_GET_VCPU_MMAP_SIZE"))
        } catch {
            Syscall.close(fd)
            throw error
        }
    }

    deinit { Syscall.close(fd) }

    /// The value `KVM_CHECK_EXTENSION` gives for a capability (0: not supported).
    public func check(_ capability: KVMCapability) -> Int {
        let result = try? Syscall.ioctl(
            fd, ckvm_check_extension(), "KVM_CHECK_EXTENSION", value: UInt(capability.rawValue))
        return Int(result ?? 0)
    }

    /// Whether this host's KVM is PVM: software virtualization nested in a cloud VM, whose
    /// instruction emulator runs guest kernel code and cannot run every instruction.
    /// Looked up once, on first use: a jailed `vmm` has no /sys, and asks again after
    /// entering its jail (vmm asks before, so the answer is the host's).
    public static let isPVM: Bool = access("/sys/module/kvm_pvm", F_OK) == 0

    /// The most vCPUs one VM may have on this host.
    public var maximumVCPUs: Int {
        let maximum = check(.maxVCPUs)
        if maximum > 0 { return maximum }
        let recommended = check(.recommendedVCPUs)
        // The API documents 4 as the limit when neither capability is present.
        return recommended > 0 ? recommended : 4
    }

    /// The CPUID leaves KVM can present to a guest on this host.
    public func supportedCPUID() throws(KVMError) -> [kvm_cpuid_entry2] {
        var capacity = 128
        while true {
            let buffer = FlexibleArrayBuffer<kvm_cpuid2, kvm_cpuid_entry2>(capacity: capacity)
            buffer.header.pointee.nent = UInt32(capacity)
            do {
                try Syscall.ioctl(
                    fd, ckvm_get_supported_cpuid(), "KVM_GET_SUPPORTED_CPUID", pointer: buffer.raw)
                return Array(buffer.entries.prefix(min(Int(buffer.header.pointee.nent), capacity)))
            } catch where error.code == E2BIG && capacity < 4096 {
                capacity *= 2
            }
        }
    }

    /// The MSRs KVM can save and restore for a guest (`KVM_GET_MSR_INDEX_LIST`).
    public func msrIndexList() throws(KVMError) -> [UInt32] {
        var capacity = 256
        while true {
            let buffer = FlexibleArrayBuffer<kvm_msr_list, UInt32>(capacity: capacity)
            buffer.header.pointee.nmsrs = UInt32(capacity)
            do {
                try Syscall.ioctl(fd, ckvm_get_msr_index_list(), "KVM_GET_MSR_INDEX_LIST", pointer: buffer.raw)
                return Array(buffer.entries.prefix(min(Int(buffer.header.pointee.nmsrs), capacity)))
            } catch where error.code == E2BIG && capacity < 16384 {
                capacity *= 4
            }
        }
    }

    /// Creates an empty VM: no memory, no vCPUs.
    public func createVirtualMachine() throws(KVMError) -> KVMVirtualMachine {
        let vmFD = try Syscall.ioctl(fd, ckvm_create_vm(), "KVM_CREATE_VM", value: 0)
        return KVMVirtualMachine(fd: vmFD, vcpuMappingSize: vcpuMappingSize)
    }

    private static func explainOpenFailure(path: String, code: Int32) -> String {
        switch code {
        case ENOENT, ENXIO, ENODEV:
            return "\(path) does not exist: this host offers no KVM "
                + "(enable VT-x/AMD-V or nested virtualization and load kvm_intel or kvm_amd)"
        case EACCES, EPERM:
            return "permission denied opening \(path): run as root or join the group that owns it "
                + "(usually 'kvm')"
        default:
            return "cannot open \(path): \(String(cString: strerror(code))) (errno \(code))"
        }
    }
}
