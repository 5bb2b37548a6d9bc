/// A stand-in for what systemd does with a unit's `SystemCallFilter=`,
/// `SystemCallErrorNumber=EPERM`, `RestrictNamespaces=`, `UMask=` and numeric `LimitCORE=`
/// and `LimitMEMLOCK=` (PID 1 on a test machine is not
/// systemd): a Python program that reads the unit (argv[1]), expands its filter with
/// `systemd-analyze syscall-filter`, installs the seccomp filter systemd would (allowed
/// calls pass, other calls systemd knows fail with EPERM, calls it does not know with
/// ENOSYS; unshare and clone fail with EPERM for namespaces the unit does not allow,
/// clone3 with ENOSYS so glibc falls back to clone, as systemd does) and execs the rest
/// of its arguments. Not modelled: the other filters systemd adds (ProtectHostname=,
/// MemoryDenyWriteExecute=, LockPersonality=, RestrictRealtime=, RestrictSUIDSGID=).
enum UnitSystemCallFilter {
    static let script = """
        import ctypes, os, re, struct, subprocess, sys
        unit, command = sys.argv[1], sys.argv[2:]

        def expand(names):
            calls = set()
            for name in names:
                if not name.startswith("@"):
                    calls.add(name)
                    continue
                listing = subprocess.run(["systemd-analyze", "syscall-filter", name],
                                         capture_output=True, text=True, check=True).stdout
                members = [line.strip() for line in listing.splitlines()
                           if line.startswith(" ") and line.strip() and not line.strip().startswith("#")]
                calls |= expand(members)
            return calls

        allowed, denied, namespaces = set(), set(), None
        for line in open(unit):
            key, _, value = line.strip().partition("=")
            if key == "SystemCallFilter":
                if value.startswith("~"):
                    denied |= expand(value[1:].split())
                else:
                    allowed |= expand(value.split())
            elif key == "RestrictNamespaces":
                namespaces = value.split()
        allowed -= denied
        numbers = {}
        for line in open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"):
            match = re.match(r"#define __NR_(\\w+) (\\d+)", line)
            if match:
                numbers[match.group(1)] = int(match.group(2))
        known = expand(["@known"])

        ALLOW, ERRNO, KILL = 0x7fff0000, 0x00050000, 0x80000000
        EPERM, ENOSYS = 1, 38
        program = []
        def statement(code, k): program.append(struct.pack("HBBI", code, 0, 0, k))
        def jump(code, k, true, false): program.append(struct.pack("HBBI", code, true, false, k))
        LOAD, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06
        statement(LOAD, 4)                      # arch
        jump(JEQ, 0xc000003e, 1, 0)             # AUDIT_ARCH_X86_64
        statement(RET, KILL)
        statement(LOAD, 0)                      # nr
        if namespaces is not None:
            flags = {"cgroup": 0x02000000, "ipc": 0x08000000, "mnt": 0x00020000, "net": 0x40000000,
                     "pid": 0x20000000, "user": 0x10000000, "uts": 0x04000000}
            forbidden = sum(bit for name, bit in flags.items() if name not in namespaces)
            jump(JEQ, numbers["clone3"], 0, 1)
            statement(RET, ERRNO | ENOSYS)
            for call in ("unshare", "clone"):
                jump(JEQ, numbers[call], 0, 4)
                statement(LOAD, 16)             # args[0], low half
                jump(JSET, forbidden, 0, 1)
                statement(RET, ERRNO | EPERM)
                statement(RET, ALLOW)
        for name, number in sorted(numbers.items(), key=lambda item: item[1]):
            if name in allowed:
                jump(JEQ, number, 0, 1)
                statement(RET, ALLOW)
            elif name in known:
                jump(JEQ, number, 0, 1)
                statement(RET, ERRNO | EPERM)
        statement(RET, ERRNO | ENOSYS)

        import resource
        limits = {"LimitCORE": resource.RLIMIT_CORE, "LimitMEMLOCK": resource.RLIMIT_MEMLOCK}
        for line in open(unit):
            key, _, value = line.strip().partition("=")
            if key in limits:
                resource.setrlimit(limits[key], (int(value), int(value)))

        code = b"".join(program)
        buffer = ctypes.create_string_buffer(code)
        class Program(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
        fprog = Program(len(program), ctypes.addressof(buffer))
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
        for arguments in ((PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0)):
            if libc.prctl(*[ctypes.c_ulong(value) for value in arguments]) != 0:
                raise OSError(ctypes.get_errno(), "prctl")
        umask = [line.strip().partition("=")[2] for line in open(unit) if line.startswith("UMask=")]
        if umask:
            os.umask(int(umask[0], 8))
        os.execv(command[0], command)
        """
}
