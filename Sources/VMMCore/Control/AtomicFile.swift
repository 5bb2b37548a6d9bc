#if canImport(Glibc)
import Glibc
#endif

/// Writes small status files (pid file, exit file) so a reader sees the old contents or
/// the new, never a half-written file: a temporary file in the same folder, then rename.
public enum AtomicFile {
    public static func write(_ contents: String, to path: String) throws(VMMError) {
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system("create \(temporary)", errno) }
        let bytes = Array(contents.utf8)
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let code = count < 0 ? errno : EIO
                close(fd)
                unlink(temporary)
                throw .system("write \(temporary)", code)
            }
            done += count
        }
        // No fsync: the files guard against vmm dying mid-write, not the host losing power
        // (after a host crash there is no VM left to account for).
        close(fd)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw .system("rename \(temporary) to \(path)", code)
        }
    }
}
