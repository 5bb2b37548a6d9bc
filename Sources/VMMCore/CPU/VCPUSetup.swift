import CKVM
import KVM

/// Puts a freshly created vCPU into the state a boot protocol promises.
enum VCPUSetup {
    /// Where the boot GDT lives: page 0, below everything a loader places.
    static let gdtAddress: UInt64 = 0x500
    static let codeSegment32: UInt16 = 0x08
    static let codeSegment64: UInt16 = 0x10
    static let dataSegment: UInt16 = 0x18
    static let taskSegment: UInt16 = 0x20

    /// Flat descriptors: 32-bit code, 64-bit code, data, and a TSS for VT-x's entry checks.
    static let gdt: [UInt64] = [
        0,
        0x00cf_9b00_0000_ffff,
        0x00af_9b00_0000_ffff,
        0x00cf_9300_0000_ffff,
        0x0080_8b00_0000_0067,
    ]

    static func writeGDT(to memory: GuestMemory) throws(VMMError) {
        for (index, descriptor) in gdt.enumerated() {
            try memory.write(descriptor, at: gdtAddress + UInt64(index * 8))
        }
    }

    /// Model-specific registers every vCPU starts with.
    static let initialMSRs: [(index: UInt32, value: UInt64)] = [
        (0x1a0, 1),  // IA32_MISC_ENABLE: fast string operations
        (0x2ff, (1 << 11) | 6),  // IA32_MTRR_DEF_TYPE: MTRRs on, write-back by default
    ]

    static func configure(
        _ vcpu: KVMVirtualCPU, cpuid: [kvm_cpuid_entry2], log: Logger
    ) throws(KVMError) {
        try vcpu.setCPUID(cpuid)
        do {
            try vcpu.setMSRs(initialMSRs)
        } catch {
            log.debug("vCPU \(vcpu.id): \(error); continuing with KVM's defaults")
        }
        var fpu = kvm_fpu()
        fpu.fcw = 0x37f
        fpu.mxcsr = 0x1f80
        try vcpu.setFPU(fpu)
        try configureLocalInterrupts(vcpu)
    }

    /// LINT0 delivers the PIC's ExtINT and LINT1 NMIs, as PC firmware leaves them.
    private static func configureLocalInterrupts(_ vcpu: KVMVirtualCPU) throws(KVMError) {
        var state = try vcpu.localAPIC()
        withUnsafeMutableBytes(of: &state.regs) { registers in
            let lint0 = 0x350, lint1 = 0x360
            let extINT: UInt32 = 0x7 << 8, nmi: UInt32 = 0x4 << 8
            let old0 = registers.loadUnaligned(fromByteOffset: lint0, as: UInt32.self)
            let old1 = registers.loadUnaligned(fromByteOffset: lint1, as: UInt32.self)
            registers.storeBytes(of: (old0 & ~0x1_0700) | extINT, toByteOffset: lint0, as: UInt32.self)
            registers.storeBytes(of: (old1 & ~0x1_0700) | nmi, toByteOffset: lint1, as: UInt32.self)
        }
        try vcpu.setLocalAPIC(state)
    }

    /// Sets the boot vCPU's registers for `entry`.
    static func enter(_ vcpu: KVMVirtualCPU, at entry: EntryPoint) throws(KVMError) {
        var sregs = try vcpu.specialRegisters()
        var regs = kvm_regs()
        regs.rflags = 0x2
        sregs.gdt.base = gdtAddress
        sregs.gdt.limit = UInt16(gdt.count * 8 - 1)
        sregs.idt.base = 0
        sregs.idt.limit = 0
        sregs.tr = segment(selector: taskSegment, type: 0xb, code: false, long: false)
        sregs.tr.s = 0
        sregs.tr.limit = 0x67
        sregs.tr.g = 0
        sregs.tr.db = 0
        switch entry {
        case .protectedMode(let eip, let eax, let ebx):
            sregs.cs = segment(selector: codeSegment32, type: 0xb, code: true, long: false)
            setDataSegments(&sregs)
            sregs.cr0 = 0x11  // PE, ET
            sregs.cr3 = 0
            sregs.cr4 = 0
            sregs.efer = 0
            regs.rip = UInt64(eip)
            regs.rax = UInt64(eax)
            regs.rbx = UInt64(ebx)
        case .longMode(let rip, let rsi, let pageTableRoot):
            sregs.cs = segment(selector: codeSegment64, type: 0xb, code: true, long: true)
            setDataSegments(&sregs)
            sregs.cr0 = 0x8000_0011  // PG, PE, ET
            sregs.cr3 = pageTableRoot
            sregs.cr4 = 0x20  // PAE
            sregs.efer = 0x500  // LME, LMA
            regs.rip = rip
            regs.rsi = rsi
        }
        try vcpu.setSpecialRegisters(sregs)
        try vcpu.setRegisters(regs)
    }

    private static func setDataSegments(_ sregs: inout kvm_sregs) {
        let data = segment(selector: dataSegment, type: 0x3, code: false, long: false)
        sregs.ds = data
        sregs.es = data
        sregs.fs = data
        sregs.gs = data
        sregs.ss = data
    }

    private static func segment(selector: UInt16, type: UInt8, code: Bool, long: Bool) -> kvm_segment {
        var segment = kvm_segment()
        segment.base = 0
        segment.limit = 0xffff_ffff
        segment.selector = selector
        segment.type = type
        segment.present = 1
        segment.dpl = 0
        segment.db = long ? 0 : 1
        segment.s = 1
        segment.l = long ? 1 : 0
        segment.g = 1
        return segment
    }
}
