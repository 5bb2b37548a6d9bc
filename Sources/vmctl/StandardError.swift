import Foundation

/// Unbuffered diagnostics, so they interleave correctly with a console's output.
enum StandardError {
    /// Writes `line` and a line end to standard error.
    static func write(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
