#if canImport(Glibc)
import Glibc
#endif
import CJail
import VMMCore

/// The system calls that build vmm's jail, each turning a failure into a `VMMError` that
/// names the call and errno. The one place in vmm that calls them.
enum JailSystem {
    /// New mount, IPC and UTS namespaces, and with `pid` a new PID namespace for the
    /// processes the caller starts later.
    static func unshareNamespaces(pid: Bool) throws(VMMError) {
        try check(cjail_unshare_namespaces(pid ? 1 : 0), "unshare (mount, \(pid ? "PID, " : "")IPC and UTS namespaces)")
    }

    /// Keeps the mounts below from propagating to the host (systemd makes / shared), while
    /// the host's still reach the jail: storage mounted on a bound folder (a VM's snapshot
    /// folder) after the VM started is what the VM writes to.
    static func makeMountsSlaves() throws(VMMError) {
        try check(mount(nil, "/", nil, UInt(MS_REC | MS_SLAVE), nil), "mount --make-rslave /")
    }

    /// Bind-mounts `source` on `target`, then takes set-uid bits, devices and execution
    /// away from it (a bind mount ignores those flags until remounted).
    static func bind(_ source: String, on target: String) throws(VMMError) {
        try check(mount(source, target, nil, UInt(MS_BIND | MS_REC), nil), "bind-mount \(source) on \(target)")
        let flags = UInt(MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        try check(mount(nil, target, nil, flags, nil), "remount \(target) nosuid,nodev,noexec")
    }

    static func makeDirectory(_ path: String) throws(VMMError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw .system("mkdir \(path)", errno) }
    }

    /// Makes `root` the root of the mount namespace and lets go of the old one entirely
    /// (pivot_root(".", ".") as pivot_root(2) describes: the old root ends up under the new
    /// one and is detached at once).
    static func pivotRoot(to root: String) throws(VMMError) {
        try check(chdir(root), "chdir \(root)")
        try check(cjail_pivot_root(".", "."), "pivot_root to \(root)")
        try check(umount2(".", Int32(MNT_DETACH)), "detach the old root")
        try check(chdir("/"), "chdir / in the jail")
    }

    static func limit(_ resource: Int32, to value: rlim_t, _ what: String) throws(VMMError) {
        var current = rlimit()
        try check(getrlimit(resource, &current), "getrlimit \(what)")
        // Never raise a limit the caller set lower.
        let capped = min(value, current.rlim_max)
        var limit = rlimit(rlim_cur: capped, rlim_max: capped)
        try check(setrlimit(resource, &limit), "setrlimit \(what)")
    }

    /// Changes to `user` and `group` with no supplementary groups and no capability left in
    /// any set (bounding, ambient, inheritable, permitted, effective), and forbids gaining
    /// any back (`no_new_privs`).
    static func dropPrivileges(user: uid_t, group: gid_t) throws(VMMError) {
        // The bounding set can only be emptied while CAP_SETPCAP is held; EINVAL marks the
        // first capability this kernel does not know.
        var capability: Int32 = 0
        while cjail_drop_bounding_capability(capability) == 0 { capability += 1 }
        guard errno == EINVAL, capability > 0 else { throw .system("drop capability \(capability) from the bounding set", errno) }
        try check(cjail_clear_ambient_capabilities(), "clear the ambient capabilities")
        // setgroups and capset only when there is something to clear: under
        // systemd/vmmd.service there is not, and its system-call filter denies both.
        if getgroups(0, nil) != 0 { try check(setgroups(0, nil), "setgroups (none)") }
        try check(cjail_set_group(group), "setresgid \(group)")
        // Leaving uid 0 empties the permitted, effective and ambient sets; not the inheritable one.
        try check(cjail_set_user(user), "setresuid \(user)")
        if cjail_has_capabilities() != 0 { try check(cjail_clear_capabilities(), "capset (empty)") }
        try check(cjail_set_no_new_privileges(), "prctl PR_SET_NO_NEW_PRIVS")
    }

    static func setParentDeathSignal(_ signal: Int32) throws(VMMError) {
        try check(cjail_set_parent_death_signal(signal), "prctl PR_SET_PDEATHSIG")
    }

    static func processDescriptor(_ pid: pid_t) throws(VMMError) -> Int32 {
        let fd = cjail_pidfd_open(pid)
        guard fd >= 0 else { throw .system("pidfd_open \(pid)", errno) }
        return fd
    }

    /// Whether the process behind `pidfd` has ended (a pidfd polls readable then).
    static func hasEnded(_ pidfd: Int32) -> Bool {
        var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }

    /// The caller's pid in the namespace of the mounted /proc (the host's, as its
    /// supervisor sees it), where `getpid` says 1 in a new PID namespace.
    static func ownHostProcessID() throws(VMMError) -> pid_t {
        var buffer = [CChar](repeating: 0, count: 32)
        let count = readlink("/proc/self", &buffer, buffer.count - 1)
        guard count > 0, let pid = pid_t(String(cString: buffer)) else { throw .system("readlink /proc/self", count < 0 ? errno : EINVAL) }
        return pid
    }

    static func closeDescriptors(from first: Int32) {
        _ = cjail_close_from(UInt32(first))
    }

    private static func check(_ result: Int32, _ what: @autoclosure () -> String) throws(VMMError) {
        if result != 0 { throw .system(what(), errno) }
    }
}
