import CKVM

/// The `KVM_CAP_*` values vmm asks about.
public struct KVMCapability: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let irqchip = Self(rawValue: KVM_CAP_IRQCHIP)
    public static let pit2 = Self(rawValue: KVM_CAP_PIT2)
    public static let recommendedVCPUs = Self(rawValue: KVM_CAP_NR_VCPUS)
    public static let maxVCPUs = Self(rawValue: KVM_CAP_MAX_VCPUS)
    public static let userMemory = Self(rawValue: KVM_CAP_USER_MEMORY)
    public static let immediateExit = Self(rawValue: KVM_CAP_IMMEDIATE_EXIT)
    public static let tscDeadlineTimer = Self(rawValue: KVM_CAP_TSC_DEADLINE_TIMER)
    public static let setTSSAddress = Self(rawValue: KVM_CAP_SET_TSS_ADDR)
    public static let setIdentityMapAddress = Self(rawValue: KVM_CAP_SET_IDENTITY_MAP_ADDR)
}
