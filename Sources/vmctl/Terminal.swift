#if canImport(Glibc)
import Glibc
#endif

/// The controlling terminal in raw mode while attached to a console, so every key
/// (Ctrl-C included) goes to the guest.
enum Terminal {
    // Read by signal handlers, which can reach no other state; written before they are installed.
    private nonisolated(unsafe) static var saved = termios()

    /// Runs `body` with standard input in raw mode if it is a terminal, and restores it
    /// however `body` ends, on exit, and on SIGTERM or SIGHUP. `body` learns whether the
    /// input is interactive.
    static func withRawModeIfInteractive<Result>(_ body: (_ interactive: Bool) throws -> Result) rethrows -> Result {
        guard isatty(STDIN_FILENO) != 0, tcgetattr(STDIN_FILENO, &saved) == 0 else { return try body(false) }
        atexit { Terminal.restore() }
        for signal in [SIGTERM, SIGHUP] {
            Glibc.signal(signal) { number in
                Terminal.restore()
                Glibc.signal(number, SIG_DFL)
                raise(number)
            }
        }
        var raw = saved
        cfmakeraw(&raw)
        // Keep output processing so vmctl's own lines end cleanly.
        raw.c_oflag = saved.c_oflag
        guard tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 else { return try body(false) }
        defer { restore() }
        return try body(true)
    }

    private static func restore() {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved)
    }
}
