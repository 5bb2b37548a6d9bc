import CKVM
import CTap

/// Each thread kind's allow-list. docs/seccomp.md says why each entry is there; keep the
/// two in step. The lists were measured (strace -f of the test guests, a Linux boot,
/// snapshots, migrations, reboots, pause and resume), not guessed.
extension ThreadKind {
    /// The thread's own needs plus those of the threads it starts, which inherit its
    /// filter: they must be able to start, name themselves and add their own filter.
    public var filter: SeccompFilter {
        guard !children.isEmpty else { return ownFilter }
        return children.reduce(ownFilter.union(Self.threadStart)) { $0.union($1.filter) }
    }

    /// The ioctl requests tested first: the vCPU's hot path.
    var hotIoctlRequests: [UInt] { self == .vcpu || self == .main ? [ckvm_run()] : [] }

    private var ownFilter: SeccompFilter {
        switch self {
        case .main:
            // Building a machine (again on each reboot): guest RAM, KVM, devices, vCPU
            // threads and their kick signal; restoring one from a snapshot or receiving one
            // from a migration stream; at the end the exit file and the sockets' removal.
            return Self.runtime.union(SeccompFilter(
                [.openat, .close, .read, .pread64, .pwrite64, .readv, .writev, .lseek, .fstat, .newfstatat,
                 .access, .memfd_create, .ftruncate, .fallocate, .eventfd2, .poll, .accept, .accept4, .recvfrom,
                 .sendto, .sendmsg, .recvmsg, .shutdown, .fcntl, .flock, .unlink, .rename, .fsync, .fdatasync,
                 .getrandom, .sysinfo, .rt_sigaction, .tgkill],
                ioctlRequests: Self.kvmSystem.union(Self.kvmMachine).union(Self.kvmVCPUState)
                    .union(Self.tap).union(Self.terminal)))
        case .vcpu:
            // KVM_RUN and the exits: device registers, interrupts, the console's output,
            // and a guest driver configuring devices (MSI-X routes, ioeventfds, BARs, tap
            // offloads) and starting or stopping their workers (and the balloon's statistics timer).
            return Self.runtime.union(SeccompFilter(
                [.read, .write, .writev, .sendto, .sendmsg, .shutdown, .eventfd2, .timerfd_create, .timerfd_settime,
                 .close],
                ioctlRequests: [ckvm_run(), ckvm_get_regs(), ckvm_get_sregs(), ckvm_irq_line(), ckvm_irqfd(),
                                ckvm_ioeventfd(), ckvm_set_gsi_routing(), ckvm_set_user_memory_region(),
                                ctap_tunsetoffload()]))
        case .deviceWorker:
            // poll(2) on queue notifiers and taps; frames to and from the tap; entropy;
            // a block queue runs the last request of a batch itself (see blockIO); the
            // balloon punches holes into guest RAM (fallocate) and drops pages (madvise), and
            // closes its statistics timer when a driver breaks the rules; a rate-limited queue
            // arms its throttle timer.
            return Self.runtime.union(Self.blockAccess).union(SeccompFilter(
                [.poll, .read, .write, .readv, .writev, .getrandom, .close, .timerfd_settime]))
        case .blockIO:
            return Self.runtime.union(Self.blockAccess).union(SeccompFilter([.read, .write]))
        case .control:
            // Requests from the socket (and the console socket's clients, whose input for the
            // UART raises its interrupt line); pause and resume (kicking vCPUs); snapshots: a new
            // folder and files, disk copies (reflink or data), KVM state and dirty logs; the
            // start of a migration (a connection to the destination's socket); `fence` arms
            // the fence timer (made by main before its filter).
            return Self.runtime.union(SeccompFilter(
                [.poll, .read, .write, .readv, .writev, .accept, .accept4, .recvfrom, .sendto, .sendmsg, .shutdown,
                 .close, .eventfd2, .fcntl, .openat, .mkdir, .rename, .unlink, .rmdir, .getdents64, .fstat,
                 .newfstatat, .lseek, .pread64, .pwrite64, .ftruncate, .fallocate, .fsync, .fdatasync, .flock,
                 .socket, .connect, .setsockopt, .tgkill, .timerfd_create, .timerfd_settime, .timer_settime],
                ioctlRequests: Self.kvmMachine.union(Self.kvmVCPUState).union(Self.kvmSystem).union([Self.ficlone])))
        case .consoleInput:
            return Self.runtime.union(SeccompFilter([.read, .write, .tgkill], ioctlRequests: [ckvm_irq_line()]))
        case .signals:
            // The power button raises the SCI; a forced stop kicks the vCPUs.
            return Self.runtime.union(SeccompFilter([.rt_sigtimedwait, .tgkill], ioctlRequests: [ckvm_irq_line()]))
        case .migrationSender:
            // The stream (socket writes and the destination's answers), memory and disk
            // reads, dirty logs and at the end the KVM state; pausing the vCPUs; handing
            // shared disks over (flushed and unlocked; locked again if the migration fails).
            return Self.runtime.union(SeccompFilter(
                [.read, .write, .writev, .sendto, .sendmsg, .recvfrom, .poll, .pread64, .fstat, .lseek, .shutdown,
                 .close, .eventfd2, .timerfd_create, .timerfd_settime, .tgkill, .flock, .fsync, .fdatasync],
                ioctlRequests: Self.kvmMachine.union(Self.kvmVCPUState).union(Self.kvmSystem)))
        case .throttle:
            return Self.runtime.union(SeccompFilter([.tgkill]))
        case .announcer:
            return Self.runtime.union(SeccompFilter([.writev]))
        }
    }

    /// What Swift's runtime and glibc do on any thread: allocate (malloc's arenas map,
    /// trim and advise memory), wait on locks (futex), read clocks (vDSO, but the kernel
    /// call where the vDSO falls back), sleep, log to standard error, and end.
    static let runtime = SeccompFilter(
        [.brk, .mmap, .munmap, .mremap, .mprotect, .madvise, .futex, .sched_yield, .rt_sigprocmask, .rt_sigreturn,
         .restart_syscall, .clock_gettime, .clock_nanosleep, .nanosleep, .gettid, .getpid, .exit, .exit_group,
         .write])

    /// pthread_create and a new thread's first steps in glibc, then its name (prctl
    /// PR_SET_NAME) and its own filter (seccomp).
    static let threadStart = SeccompFilter(
        [.clone3, .clone, .set_robust_list, .rseq, .sigaltstack, .seccomp], prctlOptions: [prSetName])

    /// A disk's requests: reads and writes at offsets (vectored), flushes, discards.
    static let blockAccess = SeccompFilter(
        [.pread64, .pwrite64, .preadv, .pwritev, .preadv2, .pwritev2, .fsync, .fdatasync, .fallocate])

    static let prSetName: UInt = 15
    /// TCGETS (isatty(3) in the logger) and TCSETS/TCSETSW/TCSETSF (the terminal restored at exit).
    static let terminal: Set<UInt> = [0x5401, 0x5402, 0x5403, 0x5404]
    /// FICLONE: a reflink copy of a disk image for a snapshot.
    static let ficlone: UInt = 0x4004_9409

    static let kvmSystem: Set<UInt> = [
        ckvm_get_api_version(), ckvm_create_vm(), ckvm_check_extension(), ckvm_get_vcpu_mmap_size(),
        ckvm_get_supported_cpuid(), ckvm_get_msr_index_list(),
    ]
    static let kvmMachine: Set<UInt> = [
        ckvm_create_vcpu(), ckvm_set_user_memory_region(), ckvm_set_tss_addr(), ckvm_set_identity_map_addr(),
        ckvm_create_irqchip(), ckvm_create_pit2(), ckvm_irq_line(), ckvm_set_gsi_routing(), ckvm_irqfd(),
        ckvm_ioeventfd(), ckvm_get_dirty_log(), ckvm_get_irqchip(), ckvm_set_irqchip(), ckvm_get_pit2(),
        ckvm_set_pit2(), ckvm_get_clock(), ckvm_set_clock(),
    ]
    static let kvmVCPUState: Set<UInt> = [
        ckvm_run(), ckvm_get_regs(), ckvm_set_regs(), ckvm_get_sregs(), ckvm_set_sregs(), ckvm_set_fpu(),
        ckvm_set_cpuid2(), ckvm_set_msrs(), ckvm_get_lapic(), ckvm_set_lapic(), ckvm_get_mp_state(),
        ckvm_set_mp_state(), ckvm_get_vcpu_events(), ckvm_set_vcpu_events(), ckvm_get_fpu(), ckvm_get_xsave(),
        ckvm_set_xsave(), ckvm_get_xcrs(), ckvm_set_xcrs(), ckvm_get_debugregs(), ckvm_set_debugregs(),
        ckvm_get_msrs(), ckvm_get_tsc_khz(), ckvm_set_tsc_khz(), ckvm_get_stats_fd(),
    ]
    static let tap: Set<UInt> = [ctap_tunsetiff(), ctap_tungetiff(), ctap_tunsetoffload(), ctap_tunsetvnethdrsz()]
}
