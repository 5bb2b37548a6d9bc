/// What a thread's filter does with a system call outside its allow-list.
public enum SeccompMode: String, CaseIterable, Sendable {
    /// The call traps: vmm names the thread and the call on standard error, then dies by
    /// SIGSYS (the kernel kills it if the report itself fails).
    case on
    /// The call goes ahead and the kernel logs it (audit type 1326, or the kernel log
    /// without auditd): for finding what an allow-list misses.
    case log
    /// No filters.
    case off
}
