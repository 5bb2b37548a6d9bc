import Foundation

/// Unbuffered diagnostics, so they interleave correctly with a console's output.
enum StandardError {
    /// Writes `line` and a line end to standard error.
    static func write(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Writes `text` as it is: a progress line that the next one overwrites.
    static func overwrite(_ text: String) {
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
    }
}
