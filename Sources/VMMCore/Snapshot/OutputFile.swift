#if canImport(Glibc)
import Glibc
#endif

/// A file a snapshot writes: created new (never overwriting), written with positioned
/// writes, synced before the snapshot counts as complete.
final class OutputFile {
    let path: String
    let fd: Int32

    init(creating path: String, mode: mode_t = 0o600) throws(VMMError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .system("create \(path)", errno) }
        self.path = path
        self.fd = fd
    }

    /// Opens `path` for writing, creating it if needed; its contents stay until changed.
    init(overwriting path: String, mode: mode_t) throws(VMMError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .system("open \(path) for writing", errno) }
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    func write(_ source: UnsafeRawPointer, count: Int, at offset: UInt64) throws(VMMError) {
        var done = 0
        while done < count {
            let written = pwrite(fd, source + done, count - done, off_t(offset) + off_t(done))
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw .system("write \(path)", written < 0 ? errno : EIO) }
            done += written
        }
    }

    func write(_ bytes: [UInt8], at offset: UInt64 = 0) throws(VMMError) {
        // withUnsafeBytes cannot carry a typed throw; report through a result.
        let outcome = bytes.withUnsafeBytes { buffer in
            Result { () throws(VMMError) in try write(buffer.baseAddress!, count: buffer.count, at: offset) }
        }
        try outcome.get()
    }

    /// Sets the length without writing: the rest stays a hole.
    func setLength(_ length: UInt64) throws(VMMError) {
        guard ftruncate(fd, off_t(length)) == 0 else { throw .system("set the length of \(path)", errno) }
    }

    func sync() throws(VMMError) {
        guard fsync(fd) == 0 else { throw .system("fsync \(path)", errno) }
    }
}
