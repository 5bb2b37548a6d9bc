#if canImport(Glibc)
import Glibc
#endif

/// Copies disk images: a reflink (FICLONE: shared extents, no data copied) where the
/// filesystem can, otherwise the data extents only, so holes stay holes.
public enum DiskCopy {
    /// `_IOW(0x94, 9, int)`.
    private static let ficlone: UInt = 0x4004_9409

    public enum Method: String, Sendable { case reflink, sparseCopy = "sparse-copy" }

    /// Makes `output` share `input`'s extents; false where the filesystem cannot.
    static func reflink(_ output: OutputFile, from input: Int32) -> Bool {
        ioctl(output.fd, ficlone, input) == 0
    }

    /// Copies the bytes of `ranges` from `input` to the same offsets of `output`.
    static func copy(_ ranges: [Range<UInt64>], from input: Int32, source: String, to output: OutputFile) throws(VMMError) -> UInt64 {
        var copied: UInt64 = 0
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        for range in ranges {
            var offset = range.lowerBound
            while offset < range.upperBound {
                let count = Int(min(UInt64(chunk), range.upperBound - offset))
                let read = pread(input, buffer, count, off_t(offset))
                if read < 0 && errno == EINTR { continue }
                guard read >= 0 else { throw .system("read \(source)", errno) }
                guard read > 0 else { break }
                try output.write(buffer, count: read, at: offset)
                offset += UInt64(read)
                copied += UInt64(read)
            }
        }
        return copied
    }

    /// Makes `destination` (created if missing) hold what `source` holds, in place: the
    /// image keeps its inode, so the disk serial the guest saw (derived from it) stays.
    /// Refused while another vmm has the image open (it holds the image's flock).
    public static func overwrite(_ destination: String, withContentsOf source: String) throws(VMMError) {
        let input = try SourceFile(source)
        let output = try OutputFile(overwriting: destination, mode: input.mode)
        guard flock(output.fd, LOCK_EX | LOCK_NB) == 0 else {
            throw .invalidConfiguration(
                "disk \(destination) is in use by another VM (locked): stop that VM before restoring over its disk")
        }
        try output.setLength(0)
        if !reflink(output, from: input.fd) {
            try output.setLength(input.size)
            _ = try copy(try input.dataExtents(), from: input.fd, source: source, to: output)
        }
        try output.sync()
    }
}

/// A file opened for reading, with its size and permission bits.
final class SourceFile {
    let path: String
    let fd: Int32
    let size: UInt64
    let mode: mode_t

    /// Opens `path`, or duplicates `opened`, a descriptor of it already open.
    init(_ path: String, opened: Int32? = nil) throws(VMMError) {
        let fd = opened.map { fcntl($0, F_DUPFD_CLOEXEC, 0) } ?? open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("open \(path)", errno) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let code = errno
            close(fd)
            throw .system("stat \(path)", code)
        }
        self.path = path
        self.fd = fd
        self.size = UInt64(status.st_size)
        self.mode = mode_t(status.st_mode & 0o777)
    }

    deinit { close(fd) }

    func dataExtents() throws(VMMError) -> [Range<UInt64>] {
        try FileExtents.data(of: fd, size: size, what: path)
    }
}
