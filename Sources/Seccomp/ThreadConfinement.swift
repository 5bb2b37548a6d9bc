#if canImport(Glibc)
import Glibc
#endif
import CSeccomp
import Synchronization

/// Puts each of vmm's threads under its kind's seccomp filter.
///
/// `vmm` chooses the mode once, at start-up (`enable`); until then, and in any other
/// process that links VMMCore (the tests), `enter` only names the thread. Every thread
/// calls `enter` first thing, before it touches guest data; the main thread's filter
/// is installed before it starts any thread, so a thread carries the main filter and its
/// own, and the kernel applies the stricter answer: its own list. vCPU threads are the
/// exception: a launcher thread that entered the vCPU filter before the main filter
/// existed starts them, so they carry that one filter alone (`Entry.inherited`).
///
/// vmm's jail (uid/gid drop, namespaces, pivot_root: docs/jail.md) is entered after the
/// machine's files are open and before `enable`, since seccomp blocks the calls it needs.
public enum ThreadConfinement {
    private static let mode = Atomic<UInt8>(0)
    private static let modes: [SeccompMode] = [.off, .on, .log]
    /// The kind named by `selfTestVariable` (its raw value + 1), or 0.
    private static let selfTest = Atomic<UInt16>(0)

    /// Names a thread kind (`vcpu`, `device-worker`, ...): each thread of that kind makes
    /// one forbidden call (getppid) right after entering its filter. The documented way to
    /// see a filter's denial end vmm, for tests and for users checking their setup.
    public static let selfTestVariable = "VMM_SECCOMP_SELF_TEST"

    /// The mode threads use from now on; `.on` also installs the SIGSYS reporter, whose
    /// line names `processID` (a jailed vmm is pid 1 of its namespace: it names the pid its
    /// supervisor knows).
    public static func enable(_ newMode: SeccompMode, processID: pid_t = getpid()) {
        if newMode == .on { SeccompTrap.install(processID: processID) }
        if newMode != .off { _ = cseccomp_preset_malloc_arena_limit() }
        if let name = getenv(selfTestVariable).map({ String(cString: $0) }),
           let kind = ThreadKind.allCases.first(where: { "\($0.label)" == name }) {
            selfTest.store(kind.rawValue + 1, ordering: .relaxed)
        }
        mode.store(UInt8(modes.firstIndex(of: newMode)!), ordering: .releasing)
    }

    public static var currentMode: SeccompMode { modes[Int(mode.load(ordering: .acquiring))] }

    /// How a thread comes by its kind's filter.
    public enum Entry: Sendable {
        /// It installs the filter (on top of whatever it inherited).
        case own
        /// It installs the filter to start threads that inherit it alone (`ThreadLauncher`);
        /// it does none of the kind's work, so the self-test leaves it alone.
        case launcher
        /// It carries the filter already, from a launcher of its kind.
        case inherited
    }

    /// Names the calling thread and nothing else (a launcher back from running a routine).
    public static func setThreadName(_ name: String) {
        _ = cseccomp_set_thread_name(name)
    }

    /// Names the calling thread (`top` and /proc show it; at most 15 bytes are kept) and
    /// installs its kind's filter. Throws only if the kernel refuses the filter.
    public static func enter(_ kind: ThreadKind, name: String, as entry: Entry = .own) throws(SeccompError) {
        _ = cseccomp_set_thread_name(name)
        let denial: UInt32
        switch currentMode {
        case .off: return
        case .on: denial = SECCOMP_RET_TRAP | UInt32(kind.rawValue)
        case .log: denial = SECCOMP_RET_LOG
        }
        if entry != .inherited {
            if kind == .main { try SeccompFilter.forbidNewPrivileges() }
            try kind.filter.install(denial: denial, hot: kind.hotIoctlRequests, what: "the \(kind.label) thread's seccomp filter")
        }
        if entry != .launcher && selfTest.load(ordering: .relaxed) == kind.rawValue + 1 { _ = getppid() }
    }

    /// `enter` for threads that cannot report an error: a thread that should be filtered
    /// and cannot be must not run unfiltered, so vmm ends.
    public static func enterOrExit(_ kind: ThreadKind, name: String, as entry: Entry = .own) {
        do {
            try enter(kind, name: name, as: entry)
        } catch {
            let line = "vmm: error: \(error)\n"
            _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            _exit(6)
        }
    }
}
