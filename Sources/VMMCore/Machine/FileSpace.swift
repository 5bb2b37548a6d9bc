#if canImport(Glibc)
import Glibc
#endif

/// fallocate(2): punching holes into disk images and guest memory.
///
/// <linux/falloc.h> is not in Swift's Glibc module, and glibc declares fallocate only
/// under _GNU_SOURCE: the flags are spelled out and the function found with dlsym.
enum FileSpace {
    static let keepSize: Int32 = 0x01
    static let punchHole: Int32 = 0x02
    static let zeroRange: Int32 = 0x10

    private typealias Fallocate = @convention(c) (Int32, Int32, off_t, off_t) -> Int32

    private static let function: Fallocate? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "fallocate64")
        .map { unsafeBitCast($0, to: Fallocate.self) }

    /// Calls fallocate, retrying EINTR; returns 0 or the errno.
    static func allocate(_ fileDescriptor: Int32, mode: Int32, offset: UInt64, length: UInt64) -> Int32 {
        guard length > 0 else { return 0 }
        guard let fallocate = function else { return ENOSYS }
        while fallocate(fileDescriptor, mode, off_t(offset), off_t(length)) != 0 {
            guard errno == EINTR else { return errno }
        }
        return 0
    }
}
