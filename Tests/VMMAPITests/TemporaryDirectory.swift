import Foundation

enum TemporaryDirectory {
    /// A new empty folder under /tmp, short enough for Unix socket paths (108 bytes).
    static func make() throws -> String {
        var template = Array("/tmp/vmmapi-XXXXXX".utf8CString)
        guard let path = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        return String(cString: path)
    }
}
