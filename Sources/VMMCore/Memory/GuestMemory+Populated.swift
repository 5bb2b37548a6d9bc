#if canImport(Glibc)
import Glibc
#endif

/// Which parts of guest RAM hold data: what a snapshot must write. Pages never touched
/// read as zeros and are left out, so a 4 GiB guest that used 40 MiB writes about 40 MiB.
extension GuestMemory {
    /// Offsets into the RAM (sorted, disjoint, page-aligned) that may hold non-zero bytes.
    public func populatedRanges() throws(VMMError) -> [Range<UInt64>] {
        switch backing {
        case .anonymous:
            return try FileExtents.data(of: fileDescriptor, size: size, what: "guest memory")
        case .snapshotFile:
            // The file's own data but for the pages the guest gave back, plus the pages
            // written since the restore: private anonymous copies the file does not have.
            var fileData = try FileExtents.data(of: fileDescriptor, size: size, what: "guest memory")
            if let discardedFilePages { fileData = discardedFilePages.removing(from: fileData) }
            return Self.merge(fileData + (try privatelyWrittenPages()))
        case .mergeable:
            return try privatelyWrittenPages()
        }
    }

    /// Pages of the private mapping that are anonymous (present and not file pages, or
    /// swapped out), read from /proc/self/pagemap: one 64-bit entry per page.
    private func privatelyWrittenPages() throws(VMMError) -> [Range<UInt64>] {
        try Pagemap.withDescriptor { (fd) throws(VMMError) in try privatelyWrittenPages(pagemap: fd) }
    }

    private func privatelyWrittenPages(pagemap fd: Int32) throws(VMMError) -> [Range<UInt64>] {
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let present: UInt64 = 1 << 63, swapped: UInt64 = 1 << 62, filePage: UInt64 = 1 << 61
        let pageCount = Int(size / pageSize)
        let batch = 65536
        var entries = [UInt64](repeating: 0, count: batch)
        var ranges: [Range<UInt64>] = []
        var page = 0
        while page < pageCount {
            let count = min(batch, pageCount - page)
            let virtualPage = UInt64(UInt(bitPattern: base)) / pageSize + UInt64(page)
            let read = entries.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress, count * 8, off_t(virtualPage * 8))
            }
            guard read == count * 8 else { throw .system("read /proc/self/pagemap", read < 0 ? errno : EIO) }
            for index in 0..<count {
                let entry = entries[index]
                guard entry & swapped != 0 || (entry & present != 0 && entry & filePage == 0) else { continue }
                let offset = UInt64(page + index) * pageSize
                if let last = ranges.last, last.upperBound == offset {
                    ranges[ranges.count - 1] = last.lowerBound..<offset + pageSize
                } else {
                    ranges.append(offset..<offset + pageSize)
                }
            }
            page += count
        }
        return ranges
    }

    static func merge(_ ranges: [Range<UInt64>]) -> [Range<UInt64>] {
        var merged: [Range<UInt64>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }
}
