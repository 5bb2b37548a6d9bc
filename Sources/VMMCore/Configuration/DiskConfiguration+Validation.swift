#if canImport(Glibc)
import Glibc
#endif

extension DiskConfiguration {
    /// Throws a user error unless the image is a regular file or block device that vmm may
    /// read (and write, unless `readOnly`), so a typo fails with status 2 before any KVM
    /// object exists rather than when the device opens it.
    public func checkImage() throws(VMMError) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw .invalidConfiguration("--disk \(path): \(Self.reason(errno)); give the path of a raw disk image")
        }
        let type = status.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFBLK else {
            throw .invalidConfiguration("--disk \(path) is not a regular file or block device; give a raw disk image")
        }
        guard access(path, readOnly ? R_OK : R_OK | W_OK) == 0 else {
            let fix = readOnly ? "make it readable" : "make it writable, or attach it read-only (--disk \(path),readonly)"
            throw .invalidConfiguration("--disk \(path): \(Self.reason(errno)); \(fix)")
        }
    }

    private static func reason(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file"
        case EACCES: return "permission denied"
        case EROFS: return "on a read-only file system"
        default: return String(cString: strerror(code))
        }
    }
}
