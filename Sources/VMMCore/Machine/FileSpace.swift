#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// fallocate(2): punching holes into disk images and guest memory.
///
/// <linux/falloc.h> is not in Swift's Glibc module, so the flags are spelled out; the call
/// is the system call itself (CLinux), which a static `vmm` has as well (no dlsym there).
enum FileSpace {
    static let keepSize: Int32 = 0x01
    static let punchHole: Int32 = 0x02
    static let zeroRange: Int32 = 0x10

    /// Calls fallocate, retrying EINTR; returns 0 or the errno.
    static func allocate(_ fileDescriptor: Int32, mode: Int32, offset: UInt64, length: UInt64) -> Int32 {
        guard length > 0 else { return 0 }
        while clinux_fallocate(fileDescriptor, mode, Int(truncatingIfNeeded: offset), Int(truncatingIfNeeded: length)) != 0 {
            guard errno == EINTR else { return errno }
        }
        return 0
    }
}
