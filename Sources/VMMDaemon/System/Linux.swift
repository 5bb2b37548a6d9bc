import Glibc

/// The Linux calls Swift's Glibc module does not import: newer glibc functions found with
/// `dlsym` (the C `syscall` is variadic, which Swift cannot call) and GNU-only constants.
enum Linux {
    /// Raises this process's soft limit on open files to its hard limit; returns the limit
    /// in force afterwards.
    static func raiseOpenFileLimit() -> rlim_t {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        guard limit.rlim_cur < limit.rlim_max else { return limit.rlim_cur }
        var raised = rlimit(rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max)
        return setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 ? raised.rlim_cur : limit.rlim_cur
    }

    /// `POSIX_SPAWN_SETSID` from glibc's <spawn.h>, hidden behind _GNU_SOURCE.
    static let spawnSetSID: Int16 = 0x80
    /// `O_PATH` from <fcntl.h> (GNU only): a descriptor that names a file without opening it
    /// for reading or writing, so no right on the file itself is needed.
    static let openPath: Int32 = 0o10000000
    /// `AT_EMPTY_PATH` (GNU only): the *at call works on the descriptor itself.
    static let emptyPath: Int32 = 0x1000

    private typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    private typealias PidfdSendSignal = @convention(c) (Int32, Int32, UnsafeMutableRawPointer?, UInt32) -> Int32

    /// A descriptor that becomes readable when `pid` ends; nil (errno set) if the process is
    /// gone. Unlike `kill(pid, 0)` it cannot be fooled by a reused pid later.
    static func pidfdOpen(_ pid: pid_t) -> Int32? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pidfd_open") else { return nil }
        let fd = unsafeBitCast(symbol, to: PidfdOpen.self)(pid, 0)
        return fd >= 0 ? fd : nil
    }

    /// Sends `signal` to the process behind `pidfd` (never to a later process with its pid).
    @discardableResult
    static func pidfdSendSignal(_ pidfd: Int32, _ signal: Int32) -> Bool {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pidfd_send_signal") else { return false }
        return unsafeBitCast(symbol, to: PidfdSendSignal.self)(pidfd, signal, nil, 0) == 0
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// Has `posix_spawn` close every descriptor from `lowest` up in the child (glibc 2.34).
    static func spawnCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) -> Bool {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            return false
        }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)(actions, lowest) == 0
    }

    /// Whether the process behind `pidfd` has ended (its descriptor polls readable).
    static func hasExited(pidfd: Int32, waitingMilliseconds timeout: Int32 = 0) -> Bool {
        var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&entry, 1, timeout)
            if ready >= 0 { return ready > 0 }
            if errno != EINTR { return true }
        }
    }

    /// The message for the current `errno`.
    static var errorMessage: String { String(cString: strerror(errno)) }
}
