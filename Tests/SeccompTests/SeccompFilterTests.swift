#if canImport(Glibc)
import Glibc
#endif
import CSeccomp
import Seccomp
import Testing

/// Filters compiled here and installed by the real kernel, on a thread of the test's own:
/// the denial is SECCOMP_RET_ERRNO (EACCES), so a denied call fails instead of killing the
/// test process, and the filter ends with the thread.
@Suite struct SeccompFilterTests {
    struct Outcome: Sendable {
        var installed = true
        var deniedCall: Int32 = 0
        var deniedErrno: Int32 = 0
        var allowedCall: Int = -1
        var deniedIoctl: Int32 = 0
        var allowedIoctlErrno: Int32 = 0
        var status = ""
    }

    /// Runs `body` on a new thread after installing `filter` there.
    static func onFilteredThread(_ filter: SeccompFilter, _ body: @escaping @Sendable (inout Outcome) -> Void) -> Outcome {
        final class Box: @unchecked Sendable {
            var outcome = Outcome()
            let filter: SeccompFilter
            let body: @Sendable (inout Outcome) -> Void
            init(_ filter: SeccompFilter, _ body: @escaping @Sendable (inout Outcome) -> Void) {
                self.filter = filter
                self.body = body
            }
        }
        let box = Box(filter, body)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(box).toOpaque()
        pthread_create(&thread, nil, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            do throws(SeccompError) {
                try box.filter.install(denial: SECCOMP_RET_ERRNO | UInt32(EACCES), what: "a test filter")
            } catch {
                box.outcome.installed = false
                return nil
            }
            box.body(&box.outcome)
            return nil
        }, context)
        pthread_join(thread, nil)
        return box.outcome
    }

    static let everyThread = SeccompFilter(
        [.read, .write, .openat, .close, .futex, .mmap, .munmap, .madvise, .brk, .exit, .exit_group, .getpid,
         .rt_sigprocmask, .rseq, .gettid, .mprotect])

    @Test func aCallOutsideTheListFailsAndOneInsideRuns() {
        let outcome = Self.onFilteredThread(Self.everyThread) { outcome in
            var names = utsname()
            outcome.deniedCall = uname(&names)
            outcome.deniedErrno = errno
            outcome.allowedCall = Int(getpid())
        }
        #expect(outcome.installed)
        #expect(outcome.deniedCall == -1 && outcome.deniedErrno == EACCES, "uname is not on the list")
        #expect(outcome.allowedCall == Int(getpid()), "getpid is on the list")
    }

    @Test func ioctlIsAllowedOnlyWithListedRequests() {
        let termiosRequest: UInt = 0x5401  // TCGETS
        let fionread: UInt = 0x541B
        let filter = Self.everyThread.union(SeccompFilter(ioctlRequests: [termiosRequest]))
        let outcome = Self.onFilteredThread(filter) { outcome in
            var count: Int32 = 0
            outcome.deniedIoctl = ioctl(0, fionread, &count) == -1 ? errno : 0
            var attributes = termios()
            errno = 0
            _ = ioctl(-1, termiosRequest, &attributes)
            outcome.allowedIoctlErrno = errno
        }
        #expect(outcome.deniedIoctl == EACCES, "FIONREAD is not on the list")
        #expect(outcome.allowedIoctlErrno == EBADF, "TCGETS is on the list: the kernel ran it and refused the bad descriptor")
    }

    @Test func theThreadShowsItsFilterAndOtherThreadsDoNot() {
        let outcome = Self.onFilteredThread(Self.everyThread) { outcome in
            outcome.status = String(decoding: Self.threadStatus(), as: UTF8.self)
        }
        #expect(outcome.status.contains("Seccomp:\t2"), "\(outcome.status)")
        let own = String(decoding: Self.threadStatus(), as: UTF8.self)
        #expect(own.contains("Seccomp:\t0"), "the test's own thread has no filter")
    }

    /// The calling thread's /proc status, read with the calls `everyThread` allows.
    static func threadStatus() -> [UInt8] {
        let fd = open("/proc/thread-self/status", O_RDONLY)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = read(fd, &bytes, bytes.count)
        return Array(bytes[..<max(count, 0)])
    }

    @Test func everyKindsFilterCoversTheThreadsItStarts() {
        for kind in ThreadKind.allCases {
            let filter = kind.filter
            let program = filter.program(denial: SECCOMP_RET_TRAP)
            #expect(program.count < 4096, "\(kind.label): BPF programs are limited to 4096 instructions")
            #expect(filter.allows(.exit_group) && filter.allows(.futex) && filter.allows(.write), "\(kind.label)")
            #expect(!filter.allows(.execve) && !filter.allows(.ptrace) && !filter.allows(.mount), "\(kind.label)")
        }
        let main = ThreadKind.main.filter
        for kind in ThreadKind.allCases {
            #expect(kind.filter.systemCalls.isSubset(of: main.systemCalls), "\(kind.label) ⊆ main")
            #expect(kind.filter.ioctlRequests.isSubset(of: main.ioctlRequests), "\(kind.label) ioctls ⊆ main")
        }
        #expect(ThreadKind.deviceWorker.filter.systemCalls.isSubset(of: ThreadKind.vcpu.filter.systemCalls))
    }

    @Test func systemCallNamesAndNumbersMatchTheKernel() {
        #expect(SystemCall.ioctl.rawValue == 16 && "\(SystemCall.ioctl.name)" == "ioctl")
        #expect(SystemCall(rawValue: 39) == .getpid && "\(SystemCall.getpid.name)" == "getpid")
        #expect(SystemCall.allCases.count > 300)
    }
}
