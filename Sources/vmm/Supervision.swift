#if canImport(Glibc)
import Glibc
#endif
import VMMCore

/// What a supervisor (vmmd) uses to reach and account for this vmm: the control and
/// console sockets, the pid file and the exit file. All optional; without them vmm runs
/// in the foreground as before.
struct Supervision: Sendable {
    var controlSocket: UnixListener?
    var consoleSocket: UnixListener?
    var pidFile: String?
    var exitFile: String?
    var log = Logger()
    /// The pid the supervisor knows this vmm by (pid file, seccomp report): a jailed vmm is
    /// pid 1 of its own namespace and reports its own host pid, or its keeper's (`Jail`).
    var processID = getpid()
    /// The pid of the process that runs the guest, as the host sees it (`status` replies:
    /// a supervisor reads its memory and CPU use from /proc); a jailed vmm's own.
    var machineProcessID = getpid()

    /// Announces that the VM runs: the pid file appears.
    func announceRunning() {
        guard let pidFile else { return }
        do {
            try AtomicFile.write("\(processID)\n", to: pidFile)
        } catch {
            log.error("cannot write the pid file: \(error)")
        }
    }

    /// Leaves the exit file, then removes what only makes sense while vmm lives. The exit
    /// file comes first, so whoever sees the sockets or pid file vanish can read it.
    func finish(_ report: ExitReport) {
        if let exitFile {
            do {
                try AtomicFile.write(report.json.encoded + "\n", to: exitFile)
            } catch {
                log.error("cannot write the exit file: \(error)")
            }
        }
        controlSocket?.remove()
        consoleSocket?.remove()
        if let pidFile { unlink(pidFile) }
    }
}
