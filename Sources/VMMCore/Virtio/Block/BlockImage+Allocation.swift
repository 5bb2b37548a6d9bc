#if canImport(Glibc)
import Glibc
#endif

extension BlockImage {
    public func flush() throws(VMMError) {
        while fdatasync(fileDescriptor) != 0 {
            guard errno == EINTR else { throw .system("fdatasync of disk image \(path)", errno) }
        }
    }

    public func discard(offset: UInt64, length: UInt64) throws(VMMError) {
        try allocate(mode: FileSpace.punchHole | FileSpace.keepSize, offset: offset, length: length, what: "discard")
    }

    public func writeZeroes(offset: UInt64, length: UInt64, mayUnmap: Bool) throws(VMMError) {
        do throws(VMMError) {
            try allocate(mode: FileSpace.zeroRange | FileSpace.keepSize, offset: offset, length: length, what: "write zeroes")
        } catch .system(_, let code) where code == EOPNOTSUPP || code == ENOSYS {
            // Block devices and some file systems lack ZERO_RANGE.
            if mayUnmap {
                try discard(offset: offset, length: length)
            } else {
                try writeZeroBytes(offset: offset, length: length)
            }
        }
    }

    private func writeZeroBytes(offset: UInt64, length: UInt64) throws(VMMError) {
        let chunk = 1 << 20
        let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { zeros.deallocate() }
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
        var done: UInt64 = 0
        while done < length {
            let count = Int(min(UInt64(chunk), length - done))
            try write(from: [UnsafeRawBufferPointer(rebasing: zeros[..<count])], at: offset + done)
            done += UInt64(count)
        }
    }

    private func allocate(mode: Int32, offset: UInt64, length: UInt64, what: String) throws(VMMError) {
        let code = FileSpace.allocate(fileDescriptor, mode: mode, offset: offset, length: length)
        guard code == 0 else { throw .system("\(what) on disk image \(path) at byte \(offset)", code) }
    }
}
