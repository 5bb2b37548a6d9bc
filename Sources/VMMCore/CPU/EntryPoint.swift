/// How vCPU 0 enters the guest, as set by a boot protocol.
public enum EntryPoint: Equatable, Sendable {
    /// 32-bit protected mode, paging off, flat segments (Multiboot, PVH).
    case protectedMode(eip: UInt32, eax: UInt32, ebx: UInt32)
    /// 64-bit long mode on identity-mapped page tables at `pageTableRoot` (Linux boot protocol).
    case longMode(rip: UInt64, rsi: UInt64, pageTableRoot: UInt64)
}
