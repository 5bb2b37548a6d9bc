import CKVM
import KVM

/// Turns `KVM_RUN` exits into bus accesses and machine exits. Shared by all vCPUs.
///
/// Reads only the exit data KVM wrote, and checks even that against the `kvm_run`
/// mapping before touching it.
final class VCPUExitHandler: Sendable {
    private let portBus: PortIOBus
    private let mmioBus: MMIOBus
    private let exitLatch: MachineExitLatch
    private let mappingSize: Int

    init(portBus: PortIOBus, mmioBus: MMIOBus, exitLatch: MachineExitLatch, mappingSize: Int) {
        self.portBus = portBus
        self.mmioBus = mmioBus
        self.exitLatch = exitLatch
        self.mappingSize = mappingSize
    }

    func fail(_ exit: MachineExit) { exitLatch.report(exit) }

    @inline(__always)
    func handleExit(_ vcpu: KVMVirtualCPU, counters: ExitCounters) {
        let run = vcpu.runState
        switch Int32(run.pointee.exit_reason) {
        case KVM_EXIT_IO:
            counters.count(counters.portIO)
            handlePortIO(run)
        case KVM_EXIT_MMIO:
            counters.count(counters.mmio)
            handleMMIO(run)
        case KVM_EXIT_INTR:
            counters.count(counters.interrupted)
        case KVM_EXIT_HLT:
            counters.count(counters.other)
        case KVM_EXIT_SHUTDOWN:
            counters.count(counters.other)
            exitLatch.report(.guestFault("vCPU \(vcpu.id): triple fault\n" + RegisterDump.describe(vcpu)))
        case KVM_EXIT_INTERNAL_ERROR:
            counters.count(counters.other)
            let suberror = run.pointee.internal.suberror
            let kind = suberror == UInt32(KVM_INTERNAL_ERROR_EMULATION) ? " (instruction emulation failed)" : ""
            exitLatch.report(.guestFault(
                "vCPU \(vcpu.id): KVM internal error, suberror \(suberror)\(kind)\n" + RegisterDump.describe(vcpu)))
        case KVM_EXIT_FAIL_ENTRY:
            counters.count(counters.other)
            let reason = run.pointee.fail_entry.hardware_entry_failure_reason
            exitLatch.report(.guestFault(
                "vCPU \(vcpu.id): VM entry failed, hardware reason 0x\(String(reason, radix: 16))\n"
                    + RegisterDump.describe(vcpu)))
        case KVM_EXIT_SYSTEM_EVENT:
            counters.count(counters.other)
            switch Int32(run.pointee.system_event.type) {
            case KVM_SYSTEM_EVENT_RESET: exitLatch.report(.reset)
            case KVM_SYSTEM_EVENT_SHUTDOWN: exitLatch.report(.powerOff)
            default: exitLatch.report(.guestFault("vCPU \(vcpu.id): guest reported a crash"))
            }
        default:
            counters.count(counters.other)
            exitLatch.report(.guestFault(
                "vCPU \(vcpu.id): unexpected KVM exit reason \(run.pointee.exit_reason)\n" + RegisterDump.describe(vcpu)))
        }
    }

    @inline(__always)
    private func handlePortIO(_ run: UnsafeMutablePointer<kvm_run>) {
        let io = run.pointee.io
        let size = Int(io.size)
        let count = Int(io.count)
        let offset = Int(io.data_offset)
        guard size == 1 || size == 2 || size == 4, count >= 1,
              offset >= MemoryLayout<kvm_run>.size || offset >= 0, offset + size * count <= mappingSize
        else { return }
        let data = UnsafeMutableRawPointer(run) + offset
        for index in 0..<count {
            let item = data + index * size
            if io.direction == UInt8(KVM_EXIT_IO_OUT) {
                let value: UInt32
                switch size {
                case 1: value = UInt32(item.load(as: UInt8.self))
                case 2: value = UInt32(item.loadUnaligned(as: UInt16.self))
                default: value = item.loadUnaligned(as: UInt32.self)
                }
                portBus.write(port: io.port, size: size, value: value)
            } else {
                let value = portBus.read(port: io.port, size: size)
                switch size {
                case 1: item.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
                case 2: item.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
                default: item.storeBytes(of: value, as: UInt32.self)
                }
            }
        }
    }

    @inline(__always)
    private func handleMMIO(_ run: UnsafeMutablePointer<kvm_run>) {
        let address = run.pointee.mmio.phys_addr
        let size = Int(min(run.pointee.mmio.len, 8))
        withUnsafeMutableBytes(of: &run.pointee.mmio.data) { data in
            if run.pointee.mmio.is_write != 0 {
                var value: UInt64 = 0
                for index in 0..<size { value |= UInt64(data[index]) << (8 * UInt64(index)) }
                mmioBus.write(address: address, size: size, value: value)
            } else {
                let value = mmioBus.read(address: address, size: size)
                for index in 0..<size { data[index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
            }
        }
    }
}
