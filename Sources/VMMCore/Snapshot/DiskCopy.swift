#if canImport(Glibc)
import Glibc
#endif

/// Copies a disk image at one instant: a reflink (FICLONE: shared extents, no data
/// copied) where the filesystem can, otherwise a sparse copy of its data extents.
public enum DiskCopy {
    /// `_IOW(0x94, 9, int)`.
    private static let ficlone: UInt = 0x4004_9409

    public enum Method: String, Sendable { case reflink, sparseCopy = "sparse-copy" }

    /// Copies `source` to the new file `destination`; returns how, the bytes copied (0 for
    /// a reflink) and the new file, not yet synced.
    static func copy(_ source: String, to destination: String) throws(VMMError) -> (Method, UInt64, OutputFile) {
        try withSource(source) { (input, size, mode) throws(VMMError) in
            let output = try OutputFile(creating: destination, mode: mode)
            let (method, bytes) = try fill(output, from: input, size: size, source: source)
            return (method, bytes, output)
        }
    }

    /// Makes `destination` (created if missing) hold what `source` holds, in place: the
    /// image keeps its inode, so the disk serial the guest saw (derived from it) stays.
    /// Refused while another vmm has the image open (it holds the image's flock).
    public static func overwrite(_ destination: String, withContentsOf source: String) throws(VMMError) {
        try withSource(source) { (input, size, mode) throws(VMMError) in
            let output = try OutputFile(overwriting: destination, mode: mode)
            guard flock(output.fd, LOCK_EX | LOCK_NB) == 0 else {
                throw .invalidConfiguration(
                    "disk \(destination) is in use by another VM (locked): stop that VM before restoring over its disk")
            }
            try output.setLength(0)
            _ = try fill(output, from: input, size: size, source: source)
            try output.sync()
        }
    }

    private static func withSource<T>(
        _ source: String, _ body: (Int32, UInt64, mode_t) throws(VMMError) -> T
    ) throws(VMMError) -> T {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .system("open \(source)", errno) }
        defer { close(input) }
        var status = stat()
        guard fstat(input, &status) == 0 else { throw .system("stat \(source)", errno) }
        return try body(input, UInt64(status.st_size), mode_t(status.st_mode & 0o777))
    }

    private static func fill(_ output: OutputFile, from input: Int32, size: UInt64, source: String) throws(VMMError) -> (Method, UInt64) {
        if ioctl(output.fd, ficlone, input) == 0 { return (.reflink, 0) }
        try output.setLength(size)
        var copied: UInt64 = 0
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        for extent in try FileExtents.data(of: input, size: size, what: source) {
            var offset = extent.lowerBound
            while offset < extent.upperBound {
                let count = Int(min(UInt64(chunk), extent.upperBound - offset))
                let read = pread(input, buffer, count, off_t(offset))
                if read < 0 && errno == EINTR { continue }
                guard read > 0 else { throw .system("read \(source)", read < 0 ? errno : EIO) }
                try output.write(buffer, count: read, at: offset)
                offset += UInt64(read)
                copied += UInt64(read)
            }
        }
        return (.sparseCopy, copied)
    }
}
