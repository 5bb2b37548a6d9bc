#if canImport(Glibc)
import Glibc
#endif
import CKVM

extension KVMVirtualMachine {
    /// Makes every write to `eventFD` inject an interrupt on `gsi` (edge semantics: MSI
    /// routes and pulses of irqchip pins). The eventfd stays the caller's.
    public func assignIRQFD(_ eventFD: Int32, gsi: UInt32) throws(KVMError) {
        try irqfd(eventFD, gsi: gsi, flags: 0, name: "KVM_IRQFD")
    }

    /// Undoes `assignIRQFD` for the same descriptor and GSI.
    public func deassignIRQFD(_ eventFD: Int32, gsi: UInt32) throws(KVMError) {
        try irqfd(eventFD, gsi: gsi, flags: UInt32(KVM_IRQFD_FLAG_DEASSIGN), name: "KVM_IRQFD (deassign)")
    }

    /// Makes a guest write of `length` bytes (1, 2, 4 or 8; 0 matches any length) to the
    /// MMIO address `address` signal `eventFD` instead of exiting to user space. With
    /// `dataMatch`, only writes of that value do; others exit as usual.
    public func assignIOEventFD(
        _ eventFD: Int32, address: UInt64, length: Int, dataMatch: UInt64? = nil
    ) throws(KVMError) {
        try ioeventfd(eventFD, address: address, length: length, dataMatch: dataMatch, deassign: false)
    }

    /// Undoes `assignIOEventFD`; the arguments must be the ones it was given.
    public func deassignIOEventFD(
        _ eventFD: Int32, address: UInt64, length: Int, dataMatch: UInt64? = nil
    ) throws(KVMError) {
        try ioeventfd(eventFD, address: address, length: length, dataMatch: dataMatch, deassign: true)
    }

    private func irqfd(_ eventFD: Int32, gsi: UInt32, flags: UInt32, name: String) throws(KVMError) {
        var request = kvm_irqfd()
        request.fd = UInt32(bitPattern: eventFD)
        request.gsi = gsi
        request.flags = flags
        try Syscall.ioctl(fd, ckvm_irqfd(), name, argument: &request)
    }

    private func ioeventfd(
        _ eventFD: Int32, address: UInt64, length: Int, dataMatch: UInt64?, deassign: Bool
    ) throws(KVMError) {
        let name = deassign ? "KVM_IOEVENTFD (deassign)" : "KVM_IOEVENTFD"
        // KVM would refuse these too, but with an errno that does not say which argument.
        guard [0, 1, 2, 4, 8].contains(length) else {
            throw KVMError(operation: name, code: EINVAL, explanation: "\(name): length \(length) is not 0, 1, 2, 4 or 8")
        }
        guard dataMatch == nil || length != 0 else {
            throw KVMError(operation: name, code: EINVAL, explanation: "\(name): matching data needs a length")
        }
        var request = kvm_ioeventfd()
        request.addr = address
        request.len = UInt32(length)
        request.fd = eventFD
        request.datamatch = dataMatch ?? 0
        request.flags = (dataMatch == nil ? 0 : ckvm_ioeventfd_flag_datamatch())
            | (deassign ? ckvm_ioeventfd_flag_deassign() : 0)
        try Syscall.ioctl(fd, ckvm_ioeventfd(), name, argument: &request)
    }
}
