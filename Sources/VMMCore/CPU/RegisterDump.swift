import CKVM
import KVM

/// A readable dump of a vCPU's registers for fatal guest errors.
enum RegisterDump {
    static func describe(_ vcpu: KVMVirtualCPU) -> String {
        guard let r = try? vcpu.registers(), let s = try? vcpu.specialRegisters() else {
            return "  (registers unavailable)"
        }
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
        }
        func segment(_ name: String, _ segment: kvm_segment) -> String {
            "\(name)=\(String(segment.selector, radix: 16)) base=\(hex(segment.base)) limit=\(String(segment.limit, radix: 16)) type=\(segment.type)"
        }
        return [
            "  RAX=\(hex(r.rax)) RBX=\(hex(r.rbx)) RCX=\(hex(r.rcx)) RDX=\(hex(r.rdx))",
            "  RSI=\(hex(r.rsi)) RDI=\(hex(r.rdi)) RBP=\(hex(r.rbp)) RSP=\(hex(r.rsp))",
            "  R8 =\(hex(r.r8)) R9 =\(hex(r.r9)) R10=\(hex(r.r10)) R11=\(hex(r.r11))",
            "  R12=\(hex(r.r12)) R13=\(hex(r.r13)) R14=\(hex(r.r14)) R15=\(hex(r.r15))",
            "  RIP=\(hex(r.rip)) RFLAGS=\(hex(r.rflags))",
            "  CR0=\(hex(s.cr0)) CR2=\(hex(s.cr2)) CR3=\(hex(s.cr3)) CR4=\(hex(s.cr4)) EFER=\(hex(s.efer))",
            "  " + segment("CS", s.cs) + "  " + segment("SS", s.ss),
            "  GDT=\(hex(s.gdt.base)):\(String(s.gdt.limit, radix: 16)) IDT=\(hex(s.idt.base)):\(String(s.idt.limit, radix: 16))",
        ].joined(separator: "\n")
    }
}
