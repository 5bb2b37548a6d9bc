#if canImport(Glibc)
import Glibc
#endif
import CSeccomp

/// An allow-list of system calls for one thread, compiled into a classic BPF program for
/// seccomp(2).
///
/// A call is allowed with any arguments (`systemCalls`) or only with one of a few values
/// in one argument (`argumentRules`): `ioctl` with listed requests, since one ioctl number
/// can reach anything from KVM_RUN to a disk's firmware, and `prctl` with listed options.
public struct SeccompFilter: Sendable, Equatable {
    /// A call allowed only when argument `index` (0-5) is one of `values`.
    public struct ArgumentRule: Sendable, Equatable {
        public var index: Int
        public var values: Set<UInt>
    }

    public var systemCalls: Set<SystemCall>
    public var argumentRules: [SystemCall: ArgumentRule]

    public init(_ systemCalls: Set<SystemCall> = [], ioctlRequests: Set<UInt> = [], prctlOptions: Set<UInt> = []) {
        self.systemCalls = systemCalls
        argumentRules = [:]
        if !ioctlRequests.isEmpty { argumentRules[.ioctl] = ArgumentRule(index: 1, values: ioctlRequests) }
        if !prctlOptions.isEmpty { argumentRules[.prctl] = ArgumentRule(index: 0, values: prctlOptions) }
    }

    /// The requests `ioctl` is allowed with.
    public var ioctlRequests: Set<UInt> { argumentRules[.ioctl]?.values ?? [] }

    /// Both lists joined: what a thread needs when threads it starts inherit its filter.
    public func union(_ other: SeccompFilter) -> SeccompFilter {
        var joined = SeccompFilter(systemCalls.union(other.systemCalls))
        joined.argumentRules = argumentRules.merging(other.argumentRules) { mine, theirs in
            precondition(mine.index == theirs.index, "one call's rules must test the same argument")
            return ArgumentRule(index: mine.index, values: mine.values.union(theirs.values))
        }
        for call in joined.systemCalls { joined.argumentRules[call] = nil }
        return joined
    }

    /// Whether the filter lets the call through (with `argument` in the rule's argument).
    public func allows(_ call: SystemCall, argument: UInt? = nil) -> Bool {
        if systemCalls.contains(call) { return true }
        guard let rule = argumentRules[call] else { return false }
        return argument.map(rule.values.contains) ?? true
    }

    /// The program: a foreign architecture or an x32 call is denied, then the calls with
    /// argument rules are tested (ioctl, number 16, first; `hot` requests first within it: a linear
    /// program's cost is the tests before the match), then the others one by one.
    public func program(denial: UInt32, hot: [UInt] = []) -> [sock_filter] {
        let x32Bit: UInt32 = 0x4000_0000
        var program: [sock_filter] = [
            load(cseccomp_data_arch_offset()),
            jumpIfEqual(cseccomp_audit_arch_x86_64(), then: 1, else: 0),
            ret(denial),
            load(cseccomp_data_nr_offset()),
            jump(BPF_JGE, x32Bit, then: 0, else: 1),
            ret(denial),
        ]
        for (call, rule) in argumentRules.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let values = hot.filter(rule.values.contains) + rule.values.subtracting(hot).sorted()
            let argument = cseccomp_data_args_offset() + 8 * UInt32(rule.index)  // little-endian halves
            var block: [sock_filter] = [
                load(argument + 4),
                jumpIfEqual(0, then: 1, else: 0),
                ret(denial),
                load(argument),
            ]
            for value in values where value <= UInt(UInt32.max) {
                block += [jumpIfEqual(UInt32(value), then: 0, else: 1), ret(SECCOMP_RET_ALLOW)]
            }
            block.append(ret(denial))
            // The block ends in a return on every path, so the call number is reloaded after it.
            program += [jumpIfEqual(UInt32(call.rawValue), then: 1, else: 0),
                        sock_filter(code: UInt16(BPF_JMP | BPF_JA), jt: 0, jf: 0, k: UInt32(block.count))]
            program += block
        }
        for call in systemCalls.sorted(by: { $0.rawValue < $1.rawValue }) {
            program += [jumpIfEqual(UInt32(call.rawValue), then: 0, else: 1), ret(SECCOMP_RET_ALLOW)]
        }
        program.append(ret(denial))
        return program
    }

    /// Filters the calling thread (and threads it starts later) from now on. The process
    /// must have no_new_privs set, or the thread CAP_SYS_ADMIN.
    public func install(denial: UInt32, hot: [UInt] = [], what: String) throws(SeccompError) {
        var instructions = program(denial: denial, hot: hot)
        let result = instructions.withUnsafeMutableBufferPointer { buffer in
            var program = sock_fprog(len: UInt16(buffer.count), filter: buffer.baseAddress)
            return cseccomp_install_filter(&program)
        }
        guard result == 0 else { throw SeccompError(what: what, code: errno) }
    }

    /// Sets no_new_privs for the process's threads from now on: seccomp requires it of a
    /// process without CAP_SYS_ADMIN, and vmm never needs to gain privileges by exec.
    public static func forbidNewPrivileges() throws(SeccompError) {
        guard cseccomp_set_no_new_privileges() == 0 else { throw SeccompError(what: "no_new_privs", code: errno) }
    }

    private func load(_ offset: UInt32) -> sock_filter {
        sock_filter(code: UInt16(BPF_LD | BPF_W | BPF_ABS), jt: 0, jf: 0, k: offset)
    }

    private func jumpIfEqual(_ value: UInt32, then: UInt8, else otherwise: UInt8) -> sock_filter {
        jump(BPF_JEQ, value, then: then, else: otherwise)
    }

    private func jump(_ test: Int32, _ value: UInt32, then: UInt8, else otherwise: UInt8) -> sock_filter {
        sock_filter(code: UInt16(BPF_JMP | test | BPF_K), jt: then, jf: otherwise, k: value)
    }

    private func ret(_ action: UInt32) -> sock_filter {
        sock_filter(code: UInt16(BPF_RET | BPF_K), jt: 0, jf: 0, k: action)
    }
}
