#if canImport(Glibc)
import Glibc
#endif

/// Giving guest pages back to the host (balloon inflation, free page reporting).
extension GuestMemory {
    /// The page size of the balloon protocol and of guest RAM on the host (x86).
    public static let pageSize: UInt64 = 4096

    /// Frees the whole pages within `count` bytes at `guestAddress` on the host, so that
    /// vmm's resident memory shrinks; the guest reads them as zeros (a fresh VM's memfd)
    /// or as they were in the snapshot (a restored VM's private file mapping) afterwards.
    /// Either way a later snapshot or migration leaves them out unless the guest writes them.
    ///
    /// Nothing happens unless all of the range is guest RAM in one region: the address
    /// comes from the guest. Returns the bytes freed.
    @discardableResult
    public func discard(_ guestAddress: UInt64, count: UInt64) throws(VMMError) -> UInt64 {
        guard count > 0, count <= UInt64(Int.max), let offsets = fileOffsets(of: guestAddress, count: Int(count)) else {
            return 0
        }
        let start = (offsets.lowerBound + Self.pageSize - 1) & ~(Self.pageSize - 1)
        let end = offsets.upperBound & ~(Self.pageSize - 1)
        guard start < end else { return 0 }
        switch backing {
        case .anonymous:
            let code = FileSpace.allocate(fileDescriptor, mode: FileSpace.punchHole | FileSpace.keepSize, offset: start, length: end - start)
            guard code == 0 else { throw .system("punching a hole into guest memory at offset \(start)", code) }
        case .snapshotFile:
            // The snapshot file must stay as it is: drop this process's copies instead.
            guard madvise(base + Int(start), Int(end - start), MADV_DONTNEED) == 0 else {
                throw .system("madvise(MADV_DONTNEED) of guest memory at offset \(start)", errno)
            }
            discardedFilePages?.insert(start..<end)
        case .mergeable:
            // Private anonymous pages: dropped, they read as zeros again.
            guard madvise(base + Int(start), Int(end - start), MADV_DONTNEED) == 0 else {
                throw .system("madvise(MADV_DONTNEED) of guest memory at offset \(start)", errno)
            }
        }
        return end - start
    }
}
