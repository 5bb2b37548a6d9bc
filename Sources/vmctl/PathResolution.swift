import Foundation

/// Paths as vmmd needs them: it runs elsewhere (another working folder), so a relative
/// path must be made absolute by the client that typed it.
enum PathResolution {
    /// `path` made absolute against `directory` (the working folder by default), `.` and
    /// `..` removed; symbolic links are left alone.
    static func absolute(_ path: String, from directory: String = FileManager.default.currentDirectoryPath) -> String {
        URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: directory, isDirectory: true)).standardizedFileURL.path
    }
}
