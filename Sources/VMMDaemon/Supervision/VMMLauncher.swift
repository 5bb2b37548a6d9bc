import CLinux
import DeviceOptions
import Glibc
import VMMAPI

/// Starts `vmm run`, `vmm restore` and `vmm receive` processes that outlive the daemon: each in its own session, with
/// stdin on /dev/null and output in the VM's log file, never on a pipe to the daemon
/// (a write to a dead daemon's pipe would kill the VM with SIGPIPE).
struct VMMLauncher: Sendable {
    let executable: String

    /// The command line for `definition`, served from `directory`; the definition must have
    /// passed `validate()`.
    func arguments(for definition: VMDefinition, in directory: RuntimeDirectory) throws -> [String] {
        var arguments = [executable, "run", "--kernel", definition.kernel]
        if let initrd = definition.initrd { arguments += ["--initrd", initrd] }
        arguments += try deviceArguments(definition)
        if !definition.rng { arguments.append("--no-rng") }
        if definition.mergePages { arguments.append("--merge-pages") }
        if let balloon = definition.balloon {
            let option = BalloonOption(
                target: balloon.target, deflateOnOOM: balloon.deflateOnOOM, freePageReporting: balloon.freePageReporting)
            arguments += ["--balloon", option.optionValue]
        }
        arguments += [
            "--cmdline", definition.cmdline,
            "--cpus", String(definition.cpus),
            "--memory", String(definition.memory),
        ]
        return arguments + supervisionArguments(directory)
    }

    /// The command line that restores `definition`'s VM from the snapshot in `folder`, on
    /// the definition's disks and NICs (the snapshot's disk copies are copied onto its
    /// writable disks); `newIdentity` for a clone (a new VM generation ID). The definition
    /// must have passed `validate()` and have as many disks and NICs as the snapshot.
    func restoreArguments(
        for definition: VMDefinition, snapshot folder: String, newIdentity: Bool, in directory: RuntimeDirectory
    ) throws -> [String] {
        var arguments = [executable, "restore", folder] + (try deviceArguments(definition))
        if newIdentity { arguments.append("--new-identity") }
        if definition.mergePages { arguments.append("--merge-pages") }
        return arguments + supervisionArguments(directory)
    }

    /// The command line of `vmm receive`, which builds `definition`'s VM from a migration
    /// stream read on `directory`'s incoming socket, on the definition's kernel, initrd,
    /// disks and NICs (all opened before a jail).
    func receiveArguments(for definition: VMDefinition, in directory: RuntimeDirectory) throws -> [String] {
        var arguments = [executable, "receive", "--incoming", directory.incomingSocket, "--kernel", definition.kernel]
        if let initrd = definition.initrd { arguments += ["--initrd", initrd] }
        if definition.mergePages { arguments.append("--merge-pages") }
        return arguments + (try deviceArguments(definition)) + supervisionArguments(directory)
    }

    /// `--disk` and `--net` for each of the definition's disks and NICs.
    private func deviceArguments(_ definition: VMDefinition) throws -> [String] {
        var arguments: [String] = []
        do {
            for disk in try definition.diskOptions() { arguments += ["--disk", disk.optionValue] }
            for network in try definition.networkOptions() { arguments += ["--net", network.optionValue] }
        } catch {
            throw APIError.internalError("VM \(definition.name) has an invalid disk or NIC: \(error.message)")
        }
        return arguments
    }

    private func supervisionArguments(_ directory: RuntimeDirectory) -> [String] {
        [
            "--control-socket", directory.controlSocket,
            "--console-socket", directory.consoleSocket,
            "--pid-file", directory.pidFile,
            "--exit-file", directory.exitFile,
        ]
    }

    /// Spawns `vmm` with `arguments` (from `arguments(for:in:)` or `restoreArguments`) and
    /// returns a handle on it. A jailed `vmm` (one with `jailClaim`, its id's claim, which it
    /// gets as fd 3 and holds for its life) starts as pid 1 of a new PID namespace: it then
    /// needs no fork and no keeper process (docs/jail.md).
    func launch(_ arguments: [String], in directory: RuntimeDirectory, jailClaim: JailIDClaim? = nil) throws -> ProcessHandle {
        if let jailClaim { return try launchInNewPIDNamespace(arguments, in: directory, keeping: jailClaim.fileDescriptor) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, directory.logFile, O_WRONLY | O_CREAT | O_APPEND, 0o640)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Not every descriptor of the daemon is close-on-exec (NIO's listening socket is
        // not): a VM holding the API socket would keep it alive after the daemon died.
        guard Linux.spawnCloseFrom(&actions, 3) else {
            throw APIError.internalError("posix_spawn_file_actions_addclosefrom_np is unavailable")
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The daemon ignores or blocks some signals; the VM must start with the defaults.
        var all = sigset_t()
        var none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Linux.spawnSetSID | Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, &argv, environ)
        guard result == 0 else {
            if result == EAGAIN || result == ENOMEM { throw APIError.hostOutOfThreads(for: "spawning \(executable)", errno: result) }
            throw APIError.internalError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        guard let pidfd = Linux.pidfdOpen(pid) else {
            // Out of descriptors (EMFILE/ENFILE) or memory: a child the daemon cannot watch
            // must not run. It has not been reaped, so its pid is still ours to kill.
            let code = errno
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            throw APIError(
                code: .unavailable,
                message: "cannot watch the new vmm (pidfd_open: \(String(cString: strerror(code)))): the daemon is out of "
                    + "file descriptors or memory (LimitNOFILE, fs.file-max); stop some VMs or raise the limit")
        }
        return ProcessHandle(pid: pid, pidfd: pidfd, isChild: true)
    }

    /// `launch` for a jailed `vmm`: the same session, descriptors and signal defaults, from
    /// clone(2) with `CLONE_NEWPID`, which also hands over the pidfd.
    private func launchInNewPIDNamespace(_ arguments: [String], in directory: RuntimeDirectory, keeping claim: Int32) throws -> ProcessHandle {
        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pidfd: Int32 = -1
        let pid = executable.withCString { path in
            directory.logFile.withCString { log in
                argv.withUnsafeBufferPointer { argv in
                    var spawn = clinux_spawn(path: path, argv: argv.baseAddress, envp: environ, log: log, keep: claim, error: 0)
                    return clinux_spawn_in_new_pid_namespace(&spawn, &pidfd)
                }
            }
        }
        guard pid > 0 else {
            let code = errno
            if code == EAGAIN || code == ENOMEM {
                throw APIError.hostOutOfThreads(for: "spawning \(executable) in a new PID namespace", errno: code)
            }
            throw APIError.internalError("cannot start \(executable) in a new PID namespace: \(String(cString: strerror(code)))")
        }
        return ProcessHandle(pid: pid, pidfd: pidfd, isChild: true)
    }
}
