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
        precondition(Self.mmioDataOffset == Int(ckvm_run_mmio_data_offset()), "kvm_run.mmio.data moved")
        singleAccessOffset = mappingSize >= Self.pioPageOffset + 4 ? UInt64(Self.pioPageOffset) : .max
    }

    /// Where `kvm_run.mmio.data` is: a literal, so the exit path uses it as an immediate
    /// (the layout is kernel ABI; `init` checks it against the header).
    private static let mmioDataOffset = 40
    /// x86 KVM puts port I/O data `KVM_PIO_PAGE_OFFSET` (1) pages into the `kvm_run` mapping.
    private static let pioPageOffset = 4096
    /// `pioPageOffset` if a single access there (4 bytes at most) fits in the mapping, else
    /// an offset KVM never reports, which sends every access down the checked path.
    private let singleAccessOffset: UInt64

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

    /// One access (`in`/`out`) at the offset where x86 KVM puts port data is the common
    /// case and takes a straight path; string I/O (`rep outsb`, several items) and any other
    /// offset go through the checked one. `kvm_run`'s fields are read once.
    @inline(__always)
    private func handlePortIO(_ run: UnsafeMutablePointer<kvm_run>) {
        let io = run.pointee.io
        if io.count == 1 && io.data_offset == singleAccessOffset {
            transfer(UnsafeMutableRawPointer(run) + Self.pioPageOffset, port: io.port, size: Int(io.size),
                     isOut: io.direction == UInt8(KVM_EXIT_IO_OUT))
            return
        }
        handleCheckedPortIO(run)
    }

    @inline(never)
    private func handleCheckedPortIO(_ run: UnsafeMutablePointer<kvm_run>) {
        let io = run.pointee.io
        let size = Int(io.size), count = Int(io.count)
        // KVM wrote these; checked anyway so that a wrong value cannot reach outside the mapping.
        guard size == 1 || size == 2 || size == 4, count >= 1, io.data_offset <= mappingSize,
              UInt64(truncatingIfNeeded: size &* count) <= mappingSize &- io.data_offset
        else { return }
        let data = UnsafeMutableRawPointer(run) + Int(truncatingIfNeeded: io.data_offset)
        let isOut = io.direction == UInt8(KVM_EXIT_IO_OUT)
        for index in 0..<count { transfer(data + index &* size, port: io.port, size: size, isOut: isOut) }
    }

    /// The device sees only sizes 1, 2 and 4; the data stays within the 4 bytes `item` has.
    @inline(__always)
    private func transfer(_ item: UnsafeMutableRawPointer, port: UInt16, size: Int, isOut: Bool) {
        if isOut {
            switch size {
            case 1: portBus.write(port: port, size: 1, value: UInt32(item.load(as: UInt8.self)))
            case 2: portBus.write(port: port, size: 2, value: UInt32(item.loadUnaligned(as: UInt16.self)))
            default: portBus.write(port: port, size: 4, value: item.loadUnaligned(as: UInt32.self))
            }
        } else {
            switch size {
            case 1: item.storeBytes(of: UInt8(truncatingIfNeeded: portBus.read(port: port, size: 1)), as: UInt8.self)
            case 2: item.storeBytes(of: UInt16(truncatingIfNeeded: portBus.read(port: port, size: 2)), as: UInt16.self)
            default: item.storeBytes(of: portBus.read(port: port, size: 4), as: UInt32.self)
            }
        }
    }

    /// `kvm_run`'s fields are read once. The data field has 8 bytes whatever the access's
    /// length, so a write is one 8-byte load cut to the length (1, 2, 4 or 8 for x86
    /// instructions) and a read one 8-byte store, of which KVM gives the guest the length.
    @inline(__always)
    private func handleMMIO(_ run: UnsafeMutablePointer<kvm_run>) {
        let mmio = run.pointee.mmio
        // KVM reports no more than its 8-byte data field; anything else is ignored.
        guard mmio.len <= 8 else { return }
        let size = Int(mmio.len)
        let data = UnsafeMutableRawPointer(run) + Self.mmioDataOffset
        if mmio.is_write != 0 {
            // A shift by 56 (1 byte) down to 0 (8 bytes); `&>>` keeps it in range whatever the size.
            let mask = UInt64.max &>> (64 &- 8 &* UInt64(truncatingIfNeeded: size))
            mmioBus.write(address: mmio.phys_addr, size: size, value: data.loadUnaligned(as: UInt64.self) & mask)
        } else {
            data.storeBytes(of: mmioBus.read(address: mmio.phys_addr, size: size), as: UInt64.self)
        }
    }
}
