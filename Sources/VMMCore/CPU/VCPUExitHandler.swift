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
    private let mappingSize: UInt64

    init(portBus: PortIOBus, mmioBus: MMIOBus, exitLatch: MachineExitLatch, mappingSize: Int) {
        self.portBus = portBus
        self.mmioBus = mmioBus
        self.exitLatch = exitLatch
        self.mappingSize = UInt64(mappingSize)
    }

    private let mmioDataOffset = Int(ckvm_run_mmio_data_offset())

    func fail(_ exit: MachineExit) { exitLatch.report(exit) }

    /// Port I/O and MMIO, the exits a busy guest makes, are handled inline; the rest goes
    /// to a separate function, so its error reporting does not weigh on the hot path.
    @inline(__always)
    func handleExit(_ vcpu: KVMVirtualCPU, counters: ExitCounters) {
        let run = vcpu.runState
        let reason = run.pointee.exit_reason
        if reason == UInt32(KVM_EXIT_IO) {
            counters.count(counters.portIO)
            handlePortIO(run)
        } else if reason == UInt32(KVM_EXIT_MMIO) {
            counters.count(counters.mmio)
            handleMMIO(run)
        } else {
            handleOtherExit(vcpu, counters: counters)
        }
    }

    @inline(never)
    private func handleOtherExit(_ vcpu: KVMVirtualCPU, counters: ExitCounters) {
        let run = vcpu.runState
        switch Int32(run.pointee.exit_reason) {
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

    /// One access (`in`/`out`) is the common case and takes a straight path; string I/O
    /// (`rep outsb`, several items) loops.
    @inline(__always)
    private func handlePortIO(_ run: UnsafeMutablePointer<kvm_run>) {
        let io = run.pointee.io
        let size = Int(io.size), count = Int(io.count)
        // KVM wrote these; checked anyway so that a wrong value cannot reach outside the mapping.
        guard size == 1 || size == 2 || size == 4, count >= 1, io.data_offset <= mappingSize,
              UInt64(truncatingIfNeeded: size &* count) <= mappingSize &- io.data_offset
        else { return }
        let data = UnsafeMutableRawPointer(run) + Int(truncatingIfNeeded: io.data_offset)
        let isOut = io.direction == UInt8(KVM_EXIT_IO_OUT)
        if count == 1 {
            transfer(data, port: io.port, size: size, isOut: isOut)
            return
        }
        for index in 0..<count { transfer(data + index &* size, port: io.port, size: size, isOut: isOut) }
    }

    @inline(__always)
    private func transfer(_ item: UnsafeMutableRawPointer, port: UInt16, size: Int, isOut: Bool) {
        if isOut {
            let value: UInt32
            switch size {
            case 1: value = UInt32(item.load(as: UInt8.self))
            case 2: value = UInt32(item.loadUnaligned(as: UInt16.self))
            default: value = item.loadUnaligned(as: UInt32.self)
            }
            portBus.write(port: port, size: size, value: value)
        } else {
            let value = portBus.read(port: port, size: size)
            switch size {
            case 1: item.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
            case 2: item.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
            default: item.storeBytes(of: value, as: UInt32.self)
            }
        }
    }

    /// Accesses of 1, 2, 4 and 8 bytes load and store whole; other lengths (which x86
    /// instructions do not make) go byte by byte.
    @inline(__always)
    private func handleMMIO(_ run: UnsafeMutablePointer<kvm_run>) {
        let address = run.pointee.mmio.phys_addr
        let size = Int(min(run.pointee.mmio.len, 8))
        let data = UnsafeMutableRawPointer(run) + mmioDataOffset
        if run.pointee.mmio.is_write != 0 {
            let value: UInt64
            switch size {
            case 1: value = UInt64(data.load(as: UInt8.self))
            case 2: value = UInt64(data.loadUnaligned(as: UInt16.self))
            case 4: value = UInt64(data.loadUnaligned(as: UInt32.self))
            case 8: value = data.loadUnaligned(as: UInt64.self)
            default:
                var bytes: UInt64 = 0
                for index in 0..<size { bytes |= UInt64(data.load(fromByteOffset: index, as: UInt8.self)) << (8 * UInt64(index)) }
                value = bytes
            }
            mmioBus.write(address: address, size: size, value: value)
        } else {
            let value = mmioBus.read(address: address, size: size)
            switch size {
            case 1: data.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
            case 2: data.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
            case 4: data.storeBytes(of: UInt32(truncatingIfNeeded: value), as: UInt32.self)
            case 8: data.storeBytes(of: value, as: UInt64.self)
            default:
                for index in 0..<size {
                    data.storeBytes(of: UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))), toByteOffset: index, as: UInt8.self)
                }
            }
        }
    }
}
