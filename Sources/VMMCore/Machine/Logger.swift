#if canImport(Glibc)
import Glibc
#endif

/// The VMM's own messages, one line each on standard error.
///
/// Standard output belongs to the guest's serial console, so nothing else goes there.
/// Deliberately tiny: `vmm` stays free of Foundation and logging frameworks to start fast.
public struct Logger: Sendable {
    public enum Level: Int, Comparable, Sendable {
        case debug, info, warning, error
        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public var minimumLevel: Level
    public var label: String
    // A terminal in raw mode (while the guest's console is attached) needs \r\n.
    private let lineEnding = isatty(STDERR_FILENO) != 0 ? "\r\n" : "\n"

    public init(label: String = "vmm", minimumLevel: Level = .info) {
        self.label = label
        self.minimumLevel = minimumLevel
    }

    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }

    private func log(_ level: Level, _ message: @autoclosure () -> String) {
        guard level >= minimumLevel else { return }
        let prefix = level == .warning ? "warning: " : level == .error ? "error: " : ""
        let line = "\(label): \(prefix)\(message())\(lineEnding)"
        line.utf8CString.withUnsafeBufferPointer { buffer in
            _ = Glibc.write(STDERR_FILENO, buffer.baseAddress, buffer.count - 1)
        }
    }
}
