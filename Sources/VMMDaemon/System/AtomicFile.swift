import Foundation
import Glibc

/// Writes files so that a crash at any moment leaves either the old or the new content.
enum AtomicFile {
    /// Writes `data` to a temporary file beside `path`, syncs it, renames it over `path` and
    /// syncs the folder so the rename itself survives a power loss.
    static func write(_ data: Data, to path: String, mode: mode_t = 0o600) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let temporary = "\(folder)/.\((path as NSString).lastPathComponent).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileError("cannot create \(temporary): \(Linux.errorMessage)", code: errno) }
        var ok = data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 { if errno == EINTR { continue }; return false }
                offset += written
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let (message, code) = (Linux.errorMessage, errno)
            unlink(temporary)
            throw FileError("cannot write \(path): \(message)", code: code)
        }
        try syncFolder(folder)
    }

    /// Syncs a folder, making renames and unlinks in it durable.
    static func syncFolder(_ folder: String) throws {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("cannot open \(folder): \(Linux.errorMessage)", code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileError("cannot sync \(folder): \(Linux.errorMessage)", code: errno) }
    }
}

/// A file-system failure, with the path and errno text in its message.
struct FileError: Error, CustomStringConvertible {
    let description: String
    /// The errno behind it, when one is (so a full disk can be told apart).
    let code: Int32?

    init(_ description: String, code: Int32? = nil) {
        self.description = description
        self.code = code
    }

    /// The file system is full or the quota used up: the fix is space, not a retry.
    var isOutOfSpace: Bool { code == ENOSPC || code == EDQUOT }
}
