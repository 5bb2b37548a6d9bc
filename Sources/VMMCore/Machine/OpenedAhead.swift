#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Files and taps a jailed `vmm receive` opens before it enters its jail (docs/jail.md): it
/// learns its machine from the migration stream only afterwards, when no path outside the
/// jail is reached and no tap can be created. The kernel file, the disk images and the taps
/// are then found here by the path or name the configuration gives; anything not opened
/// ahead is opened by path as before.
public enum OpenedAhead {
    private static let files = Mutex<[String: Int32]>([:])
    private static let taps = Mutex<[String: TapDevice]>([:])

    /// Opens `path` now, read-only or read-write, and keeps it for the life of the process.
    /// Nothing is locked yet: a disk of shared storage is still the source's until it pauses.
    public static func open(_ path: String, readOnly: Bool, what: String) throws(VMMError) {
        let fd = Glibc.open(path, (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC)
        guard fd >= 0 else {
            throw .invalidConfiguration("cannot open \(what) '\(path)': \(String(cString: strerror(errno)))")
        }
        if let replaced = files.withLock({ files in files.updateValue(fd, forKey: path) }) { close(replaced) }
    }

    /// Creates tap `name`, or attaches to it, now.
    public static func openTap(_ name: String) throws(VMMError) {
        let tap = try TapDevice(name: name)
        taps.withLock { $0[name] = tap }
    }

    /// A new descriptor of `path` opened ahead, or nil. It shares the kept one's file offset
    /// (read with pread) and its flock: a lock taken through it stays while vmm runs.
    static func descriptor(_ path: String) -> Int32? {
        files.withLock { files in files[path].map { fcntl($0, F_DUPFD_CLOEXEC, 0) } }.flatMap { $0 >= 0 ? $0 : nil }
    }

    /// `stat` of `path`: of the file opened ahead when it was, else by path.
    static func status(_ path: String, _ status: inout stat) -> Int32 {
        let kept = files.withLock { $0[path] }
        return kept.map { fstat($0, &status) } ?? stat(path, &status)
    }

    /// Tap `name` opened ahead, for the one device that uses it.
    static func takeTap(_ name: String?) -> TapDevice? {
        guard let name else { return nil }
        return taps.withLock { $0.removeValue(forKey: name) }
    }
}
