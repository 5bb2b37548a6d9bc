import CKVM

/// The `KVM_CAP_*` values vmm asks about.
public struct KVMCapability: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let recommendedVCPUs = Self(rawValue: KVM_CAP_NR_VCPUS)
    public static let maxVCPUs = Self(rawValue: KVM_CAP_MAX_VCPUS)
    public static let tscDeadlineTimer = Self(rawValue: KVM_CAP_TSC_DEADLINE_TIMER)
}
