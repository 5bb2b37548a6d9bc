#if canImport(Glibc)
import Glibc
#endif

/// Reads the user's kernel and initrd files, with errors that name the file and the fix.
enum HostFile {
    static func read(_ path: String, what: String) throws(VMMError) -> [UInt8] {
        let fd = OpenedAhead.descriptor(path) ?? open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            let reason: String
            switch code {
            case ENOENT: reason = "no such file"
            case EACCES: reason = "permission denied"
            default: reason = String(cString: strerror(code))
            }
            throw .invalidConfiguration("cannot open \(what) '\(path)': \(reason)")
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .system("stat \(path)", errno) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw .invalidConfiguration("\(what) '\(path)' is not a regular file")
        }
        let size = Int(status.st_size)
        guard size > 0 else { throw .invalidImage(path: path, reason: "the \(what) file is empty") }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            // pread: a descriptor opened ahead shares its offset with the kept one.
            let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, size - done, off_t(done)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let code = count < 0 ? errno : EIO
                throw .invalidConfiguration("cannot read \(what) '\(path)': \(String(cString: strerror(code)))")
            }
            done += count
        }
        return bytes
    }
}
