#if canImport(Glibc)
import Glibc
#endif

/// A raw disk image (a regular file or a host block device), opened and locked for one VM.
///
/// The lock is `flock(2)`: exclusive for a writable image and shared for a read-only one,
/// so two VMs can share a read-only image but never write the same one, and a second
/// writer fails at start-up instead of corrupting the file system inside. Closing the
/// descriptor (in `deinit`) releases it.
public final class BlockImage: BlockStorage {
    public let path: String
    public let size: UInt64
    public let isReadOnly: Bool
    /// What the guest reads as the disk's serial number (GET_ID): "vmm-" and the image's
    /// inode number in hex, stable across runs, zero-padded to 20 bytes.
    public let serial: [UInt8]
    let fileDescriptor: Int32

    /// Opens the image at `path`. Every way a user can get this wrong (missing file, no
    /// permission, a directory, a size that is not whole sectors, an image in use) throws
    /// a `VMMError` whose message names the file and the fix.
    public init(path: String, readOnly: Bool) throws(VMMError) {
        let fd = OpenedAhead.descriptor(path) ?? open(path, (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC)
        guard fd >= 0 else { throw Self.openError(path: path, readOnly: readOnly, code: errno) }
        do throws(VMMError) {
            var status = stat()
            guard fstat(fd, &status) == 0 else { throw .system("stat disk image \(path)", errno) }
            let kind = status.st_mode & S_IFMT
            guard kind == S_IFREG || kind == S_IFBLK else {
                throw .invalidConfiguration("disk image \(path) is not a regular file or a block device")
            }
            try Self.lock(fd, path: path, readOnly: readOnly)
            // lseek works for block devices too, where st_size is 0.
            let end = lseek(fd, 0, SEEK_END)
            guard end >= 0 else { throw .system("seek to the end of disk image \(path)", errno) }
            guard end > 0 else {
                throw .invalidConfiguration("disk image \(path) is empty: give it a size with truncate -s 1G \(path)")
            }
            guard end % 512 == 0 else {
                throw .invalidConfiguration(
                    "disk image \(path) is \(end) bytes, not a multiple of 512 (whole sectors): "
                        + "round it up with truncate -s %512 \(path)")
            }
            self.size = UInt64(end)
            self.serial = Self.serial(inode: UInt64(status.st_ino))
        } catch {
            close(fd)
            throw error
        }
        self.path = path
        self.isReadOnly = readOnly
        self.fileDescriptor = fd
    }

    deinit { close(fileDescriptor) }

    /// Syncs the image and lets go of its lock, so that a migration's destination can open
    /// it (shared storage); the device is quiesced and the guest paused.
    func releaseLock() throws(VMMError) {
        guard fsync(fileDescriptor) == 0 else { throw .system("fsync disk image \(path)", errno) }
        guard flock(fileDescriptor, LOCK_UN) == 0 else { throw .system("unlock disk image \(path)", errno) }
    }

    /// Takes the lock back after a migration failed. The destination may still be letting
    /// go of the image, so this waits up to `timeout` seconds for it.
    func reacquireLock(timeout: Double = 10) throws(VMMError) {
        let deadline = MonotonicClock.now + timeout
        while true {
            do throws(VMMError) {
                try Self.lock(fileDescriptor, path: path, readOnly: isReadOnly)
                return
            } catch {
                guard MonotonicClock.now < deadline, error.isUserError else { throw error }
                var pause = timespec(tv_sec: 0, tv_nsec: 20_000_000)
                nanosleep(&pause, nil)
            }
        }
    }

    private static func lock(_ fd: Int32, path: String, readOnly: Bool) throws(VMMError) {
        var result: Int32
        repeat {
            result = flock(fd, (readOnly ? LOCK_SH : LOCK_EX) | LOCK_NB)
        } while result != 0 && errno == EINTR
        guard result != 0 else { return }
        let code = errno
        guard code == EWOULDBLOCK else { throw .system("flock disk image \(path)", code) }
        throw .invalidConfiguration(
            "disk \(path) is in use by another VM (locked): "
                + (readOnly
                    ? "another VM has it open for writing; stop that VM first"
                    : "stop the VM using it, or attach the disk read-only in every VM that shares it"))
    }

    private static func openError(path: String, readOnly: Bool, code: Int32) -> VMMError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOENT:
            return .invalidConfiguration(
                "disk image \(path): \(reason): create it with truncate -s 1G \(path) or fix the path")
        case EACCES, EPERM:
            return .invalidConfiguration(
                "disk image \(path): \(reason): give this user "
                    + (readOnly ? "read access" : "read and write access, or attach the disk read-only"))
        case EROFS, ETXTBSY:
            return .invalidConfiguration("disk image \(path): \(reason): attach the disk read-only")
        case EISDIR, ENOTDIR, ELOOP, ENAMETOOLONG, ENXIO, ENODEV:
            return .invalidConfiguration("disk image \(path): \(reason): give the path of an image file")
        default:
            return .system("open disk image \(path)", code)
        }
    }

    private static func serial(inode: UInt64) -> [UInt8] {
        let text = Array("vmm-\(String(inode, radix: 16))".utf8.prefix(20))
        return text + [UInt8](repeating: 0, count: 20 - text.count)
    }
}
