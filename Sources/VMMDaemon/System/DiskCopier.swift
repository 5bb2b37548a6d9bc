import Glibc

/// Copies disk images for clones: a reflink (`FICLONE`) where the file system shares
/// blocks (btrfs, XFS), so a copy of any size takes milliseconds and no space; else a
/// sparse copy that reads only the allocated extents (SEEK_DATA / SEEK_HOLE) and leaves
/// holes as holes. Blocking: call it on a thread of its own.
enum DiskCopier {
    /// `_IOW(0x94, 9, int)` from <linux/fs.h>.
    private static let ficlone: UInt = 0x4004_9409
    private static let chunk = 1 << 20
    /// `SEEK_DATA` and `SEEK_HOLE` from <unistd.h>, hidden behind _GNU_SOURCE.
    private static let seekData: Int32 = 3
    private static let seekHole: Int32 = 4

    private typealias IoctlInt = @convention(c) (Int32, UInt, Int32) -> Int32

    /// Copies `source` (a file or block device) to `destination`, a new file (mode 0600);
    /// on failure nothing is left at `destination`.
    static func copy(_ source: String, to destination: String) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw FileError("cannot open \(source): \(Linux.errorMessage)", code: errno) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw FileError("cannot create \(destination): \(Linux.errorMessage)", code: errno) }
        do {
            if !reflink(from: input, to: output) { try sparseCopy(from: input, to: output, source, destination) }
            guard fsync(output) == 0 else { throw FileError("cannot sync \(destination): \(Linux.errorMessage)", code: errno) }
            close(output)
        } catch {
            close(output)
            unlink(destination)
            throw error
        }
    }

    /// Creates `destination` as a sparse file of `size` bytes (all holes).
    static func createSparse(_ destination: String, size: Int64) throws {
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw FileError("cannot create \(destination): \(Linux.errorMessage)", code: errno) }
        defer { close(output) }
        guard ftruncate(output, off_t(size)) == 0 else {
            let error = FileError("cannot size \(destination): \(Linux.errorMessage)", code: errno)
            unlink(destination)
            throw error
        }
    }

    /// `ioctl(output, FICLONE, input)`. Swift cannot call the variadic `ioctl`; glibc's is a
    /// plain system-call stub, so a fixed-arity pointer to it is sound.
    private static func reflink(from input: Int32, to output: Int32) -> Bool {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "ioctl") else { return false }
        return unsafeBitCast(symbol, to: IoctlInt.self)(output, ficlone, input) == 0
    }

    private static func sparseCopy(from input: Int32, to output: Int32, _ source: String, _ destination: String) throws {
        let size = lseek(input, 0, SEEK_END)
        guard size >= 0 else { throw FileError("cannot size \(source): \(Linux.errorMessage)", code: errno) }
        guard ftruncate(output, size) == 0 else {
            throw FileError("cannot size \(destination): \(Linux.errorMessage)", code: errno)
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var position: off_t = 0
        while position < size {
            // Block devices and some file systems know no holes (EINVAL): everything is data.
            var start = lseek(input, position, seekData)
            if start < 0 {
                if errno == ENXIO { break }
                guard errno == EINVAL else { throw FileError("cannot read \(source): \(Linux.errorMessage)", code: errno) }
                start = position
            }
            var end: off_t = lseek(input, start, seekHole)
            if end < 0 { end = size }
            var offset = start
            while offset < end {
                let count = pread(input, buffer, min(chunk, Int(end - offset)), offset)
                if count < 0, errno == EINTR { continue }
                guard count > 0 else {
                    throw FileError("cannot read \(source): \(count == 0 ? "it ended early" : Linux.errorMessage)", code: errno)
                }
                var written = 0
                while written < count {
                    let result = pwrite(output, buffer + written, count - written, offset + off_t(written))
                    if result < 0, errno == EINTR { continue }
                    guard result > 0 else {
                        throw FileError("cannot write \(destination): \(Linux.errorMessage)", code: errno)
                    }
                    written += result
                }
                offset += off_t(count)
            }
            position = end
        }
    }
}
