import CKVM

/// The `KVM_CAP_*` values vmm asks about.
public struct KVMCapability: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let recommendedVCPUs = Self(rawValue: KVM_CAP_NR_VCPUS)
    public static let maxVCPUs = Self(rawValue: KVM_CAP_MAX_VCPUS)
    public static let tscDeadlineTimer = Self(rawValue: KVM_CAP_TSC_DEADLINE_TIMER)
    /// `KVM_SET_GSI_ROUTING`; the value is the most routes a table may hold.
    public static let interruptRouting = Self(rawValue: KVM_CAP_IRQ_ROUTING)
    /// `KVM_IRQFD`: an eventfd write injects an interrupt without a trip through user space.
    public static let irqfd = Self(rawValue: KVM_CAP_IRQFD)
    /// `KVM_IOEVENTFD`: a guest write to an address signals an eventfd instead of exiting.
    public static let ioeventfd = Self(rawValue: KVM_CAP_IOEVENTFD)
}

extension KVMCapability {
    /// `KVM_GET_XSAVE`/`KVM_SET_XSAVE`: the whole extended FPU state.
    public static let xsave = Self(rawValue: KVM_CAP_XSAVE)
    /// `KVM_GET_XCRS`/`KVM_SET_XCRS`.
    public static let extendedControlRegisters = Self(rawValue: KVM_CAP_XCRS)
    /// `KVM_GET_DEBUGREGS`/`KVM_SET_DEBUGREGS`.
    public static let debugRegisters = Self(rawValue: KVM_CAP_DEBUGREGS)
    /// `KVM_GET_TSC_KHZ`/`KVM_SET_TSC_KHZ` per vCPU.
    public static let tscControl = Self(rawValue: KVM_CAP_TSC_CONTROL)
}
