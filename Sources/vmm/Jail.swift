#if canImport(Glibc)
import Glibc
#endif
import CJail
import KVM
import VMMCore

/// Least privilege for one `vmm` (docs/jail.md): new mount, PID, IPC and UTS namespaces,
/// its root pivoted to a folder holding only its own files, an unprivileged user and
/// group, no capabilities, `no_new_privs` and rlimits. Entered after every file the VM
/// needs is open (/dev/kvm, kernel, disks, taps, sockets, a snapshot's memory) and before
/// the seccomp filters, which forbid the calls it takes.
///
/// A new PID namespace takes effect for children only. A supervisor that can (vmmd) starts
/// vmm as pid 1 of a new one; vmm then enters the rest itself and runs the VM in the same
/// process. Otherwise (`vmm run --jail` by hand) vmm forks: the child, pid 1 of the
/// namespace, runs the VM; the process the supervisor started stays outside as its
/// keeper (`JailKeeper`), jailed and unprivileged as well, forwarding termination signals
/// and ending exactly as the VM process ended (status or signal). Its pid stays the one
/// the supervisor watches; the VM process writes it into the pid file and its seccomp
/// report, and its own pid as the host sees it into status replies.
struct Jail {
    /// A host folder mounted read-write into the jail.
    struct Bind {
        let source: String
        /// An absolute path inside the jail.
        let target: String
    }

    /// Absolute, no trailing slash.
    let root: String
    let user: uid_t
    let group: gid_t
    let binds: [Bind]

    /// Open files at most: guest devices' eventfds, irqfds, vCPUs and clients need a few
    /// hundred; a leak stops here.
    static let openFileLimit: rlim_t = 4096
    /// vmm locks no memory.
    static let lockedMemoryLimit: rlim_t = 0
    /// Threads of its user: vCPUs, device workers, block I/O, sockets (each VM has a user of its own).
    static let processLimit: rlim_t = 1024

    /// Where `path` (a host path) is seen inside the jail; nil when it is outside `root`.
    func insidePath(_ path: String) -> String? {
        guard path.hasPrefix(root + "/") else { return nil }
        return String(path.dropFirst(root.count))
    }

    /// Enters the jail and runs `body` in the VM process with `supervision` as seen from
    /// inside; the calling process becomes the keeper. Failures end vmm as a host failure
    /// (status 6) with the exit file written.
    ///
    /// `body` runs on a new thread: Swift's runtime caches each thread's kernel thread id
    /// for its locks (priority-inheritance futexes hold the owner's id), and the thread that
    /// forked keeps its parent's, which makes any contended lock spin forever (seen as a
    /// start that hangs about once in 50). The forking thread waits for the process to end.
    func enter(_ supervision: Supervision, then body: @escaping @Sendable (Supervision) -> Never) -> Never {
        // Started as pid 1 of a new PID namespace (vmmd does that): no fork, no keeper.
        if getpid() == 1 { body(enterAsNamespaceInit(supervision)) }
        let inside = enterByForking(supervision)
        final class Start: Sendable {
            let run: @Sendable () -> Never
            init(_ run: @escaping @Sendable () -> Never) { self.run = run }
        }
        let context = Unmanaged.passRetained(Start { body(inside) }).toOpaque()
        var thread = pthread_t()
        // Before any filter: glibc's first thread start makes calls no filter allows.
        let result = pthread_create(&thread, nil, { context in
            Unmanaged<Start>.fromOpaque(context!).takeRetainedValue().run()
        }, context)
        guard result == 0 else {
            Self.fail(.system("starting the VM's thread (the host is out of threads or processes, or of memory)", result), inside)
        }
        // From here this thread must not touch Swift's runtime (its locks would see the
        // stale thread id): it blocks every signal, so only the new thread receives them,
        // and waits. It holds no filter of its own (docs/jail.md).
        var all = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, nil)
        pthread_join(thread, nil)
        _exit(ExitStatus.hostFailure)
    }

    /// The jail of a vmm its supervisor started as pid 1 of a new PID namespace: the other
    /// namespaces and the rest, in this process, whose pid the supervisor knows already.
    private func enterAsNamespaceInit(_ supervision: Supervision) -> Supervision {
        do {
            try prepare(pidNamespace: false)
        } catch {
            Self.fail(error, supervision)
        }
        return confine(supervision, supervisedID: nil)
    }

    /// The jail of a vmm started in the host's PID namespace (`vmm run --jail` by hand): a
    /// fork puts the VM process into the new one, and this process stays as its keeper.
    private func enterByForking(_ supervision: Supervision) -> Supervision {
        let keeperID = getpid()
        let keeperDescriptor: Int32
        do {
            keeperDescriptor = try JailSystem.processDescriptor(keeperID)
            try prepare(pidNamespace: true)
        } catch {
            Self.fail(error, supervision)
        }
        var saved = sigset_t()
        JailKeeper.blockSignals(saving: &saved)
        let child = fork()
        if child < 0 {
            Self.fail(.system("fork into the new PID namespace (the host is out of threads or processes, or of memory)", errno), supervision)
        }
        if child > 0 {
            JailKeeper(child: child, jail: self).run()
        }
        pthread_sigmask(SIG_SETMASK, &saved, nil)
        let inside = confine(supervision, supervisedID: keeperID)
        do {
            // After the drop, which clears a parent-death signal.
            try JailSystem.setParentDeathSignal(SIGKILL)
        } catch {
            Self.fail(error, inside)
        }
        // The keeper may have died before the line above; then nobody would end this one.
        if JailSystem.hasEnded(keeperDescriptor) { _exit(ExitStatus.hostFailure) }
        close(keeperDescriptor)
        return inside
    }

    /// What comes before the fork (or with none, before the rest): new namespaces, and
    /// mounts that no longer propagate to the host.
    private func prepare(pidNamespace: Bool) throws(VMMError) {
        // Asked before /sys is out of reach; the answer is kept.
        _ = KVMSystem.isPVM
        // Both processes leave the host's root behind: pivot_root moves every root and
        // working directory that is the old root.
        chdir("/")
        try JailSystem.unshareNamespaces(pid: pidNamespace)
        try JailSystem.makeMountsSlaves()
    }

    /// The VM process's own root, umask, rlimits and user; returns `supervision` as seen
    /// from inside, naming `supervisedID` (the keeper) or else this process as the one its
    /// supervisor watches.
    private func confine(_ supervision: Supervision, supervisedID: pid_t?) -> Supervision {
        var inside = supervision
        do {
            try Pagemap.openAhead()
            let hostID = try JailSystem.ownHostProcessID()
            try mountRoot()
            try JailSystem.pivotRoot(to: root)
            inside = relocated(supervision, processID: supervisedID ?? hostID)
            inside.machineProcessID = hostID
            // The pid and exit files (and nothing else it writes asks for more than the
            // owner's bits) readable by a supervisor without CAP_DAC_OVERRIDE.
            umask(0o022)
            try limitResources()
            try JailSystem.dropPrivileges(user: user, group: group)
        } catch {
            Self.fail(error, inside)
        }
        return inside
    }

    /// The root folder bind-mounted on itself (pivot_root needs a mount point), then the
    /// binds on folders made for them inside it.
    private func mountRoot() throws(VMMError) {
        try JailSystem.bind(root, on: root)
        for bind in binds {
            try JailSystem.makeDirectory(root + bind.target)
            try JailSystem.bind(bind.source, on: root + bind.target)
        }
    }

    func limitResources() throws(VMMError) {
        try JailSystem.limit(cjail_rlimit_open_files(), to: Self.openFileLimit, "open files")
        try JailSystem.limit(cjail_rlimit_locked_memory(), to: Self.lockedMemoryLimit, "locked memory")
        try JailSystem.limit(cjail_rlimit_processes(), to: Self.processLimit, "processes")
        // A core dump would hold guest memory.
        try JailSystem.limit(cjail_rlimit_core(), to: 0, "core size")
    }

    /// `supervision` with the paths it uses from now on: inside the jail.
    private func relocated(_ supervision: Supervision, processID: pid_t) -> Supervision {
        var inside = supervision
        inside.processID = processID
        inside.pidFile = supervision.pidFile.flatMap(insidePath)
        inside.exitFile = supervision.exitFile.flatMap(insidePath)
        inside.controlSocket = supervision.controlSocket.flatMap { socket in insidePath(socket.path).flatMap(socket.reached) }
        inside.consoleSocket = supervision.consoleSocket.flatMap { socket in insidePath(socket.path).flatMap(socket.reached) }
        return inside
    }

    private static func fail(_ error: VMMError, _ supervision: Supervision) -> Never {
        let message = "cannot enter the jail: \(error)"
        Logger().error(message)
        supervision.finish(ExitReport(reason: .hostFailure, status: ExitStatus.hostFailure, message: message))
        exit(ExitStatus.hostFailure)
    }
}
