#if canImport(Glibc)
import Glibc
#endif
import CSeccomp

/// The SIGSYS handler for `--seccomp=on`: a filter's denial traps here (SECCOMP_RET_TRAP,
/// the thread kind in the return data) and the handler writes
/// `vmm: seccomp: thread <kind> made forbidden system call <name> (<number>); pid <pid> ends by SIGSYS`
/// to standard error, where vmmd finds it in vmm.log (by the pid: the log spans runs),
/// then ends vmm by SIGSYS.
///
/// Async-signal-safe: no allocation, a buffer prepared beforehand, write(2) only. To end,
/// it repeats the forbidden call: with SIGSYS blocked inside the handler the kernel resets
/// SIGSYS to its default and kills the process, as SECCOMP_RET_KILL_PROCESS would.
enum SeccompTrap {
    private static let capacity = 160
    nonisolated(unsafe) private static let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    nonisolated(unsafe) private static var processID: Int32 = 0

    static func install(processID: pid_t) {
        _ = buffer
        self.processID = processID
        var action = sigaction()
        action.sa_flags = SA_SIGINFO
        action.__sigaction_handler.sa_sigaction = { _, info, context in
            guard let info else { return }
            SeccompTrap.report(call: cseccomp_sigsys_call(info), data: cseccomp_sigsys_data(info), context: context)
        }
        sigemptyset(&action.sa_mask)
        sigaction(SIGSYS, &action, nil)
    }

    private static func report(call: Int32, data: Int32, context: UnsafeMutableRawPointer?) {
        var line = Line(buffer: buffer, capacity: capacity)
        line.append("vmm: seccomp: thread ")
        line.append(ThreadKind(rawValue: UInt16(truncatingIfNeeded: data))?.label ?? "unknown")
        line.append(" made forbidden system call ")
        let known = SystemCall(rawValue: call)
        line.append(known?.name ?? "unknown")
        line.append(" (")
        line.append(UInt64(UInt32(bitPattern: call)), radix: 10)
        if known == .ioctl, let context {
            line.append(") with request 0x")
            line.append(UInt64(bitPattern: Int64(cseccomp_context_argument(context, 1))), radix: 16)
        } else {
            line.append(")")
        }
        line.append("; pid ")
        line.append(UInt64(processID), radix: 10)
        line.append(" ends by SIGSYS\n")
        _ = write(STDERR_FILENO, buffer, line.count)
        _ = cseccomp_repeat_call(Int(call))
        _exit(128 + SIGSYS)
    }

    /// Text appended to a fixed buffer, cut at its end.
    private struct Line {
        let buffer: UnsafeMutablePointer<UInt8>
        let capacity: Int
        var count = 0

        mutating func append(_ text: StaticString) {
            let bytes = text.utf8Start
            for index in 0..<text.utf8CodeUnitCount { append(byte: bytes[index]) }
        }

        mutating func append(_ value: UInt64, radix: UInt64) {
            var digits: (UInt64, Int) = (1, 1)
            while value / digits.0 >= radix { digits = (digits.0 * radix, digits.1 + 1) }
            var divisor = digits.0
            while divisor > 0 {
                let digit = UInt8((value / divisor) % radix)
                append(byte: digit < 10 ? 48 + digit : 87 + digit)
                divisor /= radix
            }
        }

        private mutating func append(byte: UInt8) {
            guard count < capacity else { return }
            buffer[count] = byte
            count += 1
        }
    }
}
