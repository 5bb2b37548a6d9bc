#if canImport(Glibc)
import Glibc
#endif

/// The destination's writable disks while a copy-storage migration fills them: opened and
/// locked at the hello (so no other VM uses them meanwhile), emptied, written at the
/// offsets the source sends (each checked against the disk's size), then synced and closed
/// before the machine opens them as its disks.
final class MigrationDiskTargets {
    private var targets: [Int: (path: String, fd: Int32, size: UInt64)] = [:]

    init(_ configuration: MachineConfiguration, sizes: [UInt64]) throws(VMMError) {
        for (index, disk) in configuration.disks.enumerated() where !disk.readOnly {
            let fd = OpenedAhead.descriptor(disk.path) ?? open(disk.path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else {
                close()
                throw .invalidConfiguration("cannot open disk \(index) '\(disk.path)' to copy it here: \(String(cString: strerror(errno)))")
            }
            targets[index] = (disk.path, fd, sizes[index])
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close()
                throw .invalidConfiguration("disk \(index) '\(disk.path)' is in use by another VM (locked)")
            }
            // Empty it: the source sends only what holds data, the rest must read as zeros.
            var status = stat()
            if fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG {
                guard ftruncate(fd, 0) == 0, ftruncate(fd, off_t(sizes[index])) == 0 else {
                    let code = errno
                    close()
                    throw .system("empty disk image \(disk.path)", code)
                }
            }
        }
    }

    deinit { close() }

    /// Writes `count` bytes from `source` at `offset` of disk `index`.
    func write(_ index: Int, at offset: UInt64, from source: UnsafeRawPointer, count: Int) throws(VMMError) {
        guard let target = targets[index] else {
            throw .invalidSnapshot("the source sent data for disk \(index), which is not a writable disk copied here")
        }
        let (end, overflow) = offset.addingReportingOverflow(UInt64(count))
        guard !overflow, end <= target.size else {
            throw .invalidSnapshot("the source sent \(count) bytes at offset \(offset) of disk \(index), past its end (\(target.size) bytes)")
        }
        var done = 0
        while done < count {
            let written = pwrite(target.fd, source + done, count - done, off_t(offset) + off_t(done))
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw .system("write disk image \(target.path)", written < 0 ? errno : EIO) }
            done += written
        }
    }

    /// Syncs and closes the disks (releasing their locks for the machine to take).
    func finish() throws(VMMError) {
        for target in targets.values where fsync(target.fd) != 0 {
            throw .system("fsync disk image \(target.path)", errno)
        }
        close()
    }

    private func close() {
        for target in targets.values { _ = Glibc.close(target.fd) }
        targets = [:]
    }
}
