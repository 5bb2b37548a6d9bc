#if canImport(Glibc)
import Glibc
#endif

/// The controlling terminal in raw mode while the guest owns the console.
///
/// Restored by `restore()` and, should vmm exit another way, by an atexit handler.
final class Terminal: Sendable {
    private nonisolated(unsafe) static var saved: termios?

    /// Puts standard input in raw mode if it is a terminal; nil for pipes and files.
    static func makeRawIfInteractive() -> Terminal? {
        guard isatty(STDIN_FILENO) != 0 else { return nil }
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { return nil }
        saved = original
        atexit { Terminal.restoreSaved() }
        var raw = original
        cfmakeraw(&raw)
        // Keep output processing so the VMM's own lines end cleanly.
        raw.c_oflag = original.c_oflag
        guard tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 else { return nil }
        return Terminal()
    }

    func restore() { Self.restoreSaved() }

    private static func restoreSaved() {
        guard var original = saved else { return }
        tcsetattr(STDIN_FILENO, TCSANOW, &original)
    }
}
