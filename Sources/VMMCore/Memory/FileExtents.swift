#if canImport(Glibc)
import Glibc
#endif

/// The data extents of a sparse file or memfd, by SEEK_DATA / SEEK_HOLE.
enum FileExtents {
    /// Glibc hides these behind _GNU_SOURCE; the values are Linux's ABI.
    private static let seekData: Int32 = 3
    private static let seekHole: Int32 = 4

    /// Byte ranges below `size` that hold data (sorted, disjoint); holes read as zeros.
    static func data(of fd: Int32, size: UInt64, what: String) throws(VMMError) -> [Range<UInt64>] {
        var extents: [Range<UInt64>] = []
        var position: off_t = 0
        while UInt64(position) < size {
            let start = lseek(fd, position, seekData)
            if start < 0 {
                if errno == ENXIO { break }
                throw .system("lseek SEEK_DATA on \(what)", errno)
            }
            guard UInt64(start) < size else { break }
            let end = lseek(fd, start, seekHole)
            guard end >= 0 else { throw .system("lseek SEEK_HOLE on \(what)", errno) }
            extents.append(UInt64(start)..<min(UInt64(end), size))
            position = end
        }
        return extents
    }
}
