#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// The guest's RAM: one memfd mapped once into this process, split into the regions
/// the guest sees (RAM below the 32-bit PCI hole, and the rest above 4 GiB).
///
/// Every access takes a guest-physical address and a length and is checked against
/// the regions, so an address a guest chose can fail an access but never trap the host.
/// The memfd stays open so that snapshots and migration can reuse it.
public final class GuestMemory: @unchecked Sendable {
    /// A contiguous range of guest-physical RAM and where it lives in this process.
    public struct Region: Sendable {
        public let guestAddress: UInt64
        public let size: UInt64
        /// Offset of this region in the memfd (and in `base`).
        public let offset: UInt64
        public var end: UInt64 { guestAddress + size }
    }

    /// Where the guest's RAM lives on the host.
    public enum Backing: Sendable {
        /// A memfd of its own, mapped shared: a fresh boot.
        case anonymous
        /// A snapshot's memory file, mapped private (copy-on-write): pages the guest has not
        /// written since the restore are read from the file, so restoring costs no copy.
        case snapshotFile
        /// Private anonymous memory marked `MADV_MERGEABLE` (`--merge-pages`): the kernel's
        /// same-page merging (KSM) only merges private anonymous pages, never a memfd's.
        case mergeable
    }

    public let size: UInt64
    public let regions: [Region]
    public let backing: Backing
    /// The memfd holding the guest's RAM, or the snapshot memory file it was restored from;
    /// -1 for mergeable RAM, which has no file.
    public let fileDescriptor: Int32
    /// Start of the mapping of the whole memfd in this process.
    public let base: UnsafeMutableRawPointer
    /// Pages device threads wrote, while a snapshot or migration copies memory.
    let deviceWrites: DeviceWriteLog
    /// For a snapshot file's RAM: the pages the guest gave back since the restore.
    let discardedFilePages: DiscardedPages?

    /// Creates `size` bytes of zeroed guest RAM. Untouched pages cost nothing. `mergeable`
    /// RAM is private anonymous memory the kernel may merge with identical pages elsewhere.
    public convenience init(size: UInt64, mergeable: Bool = false) throws(VMMError) {
        guard size >= GuestMemoryMap.minimumSize else {
            throw .invalidConfiguration(
                "memory size \(size) bytes is too small: vmm needs at least "
                    + "\(GuestMemoryMap.minimumSize >> 20) MiB")
        }
        if mergeable {
            try self.init(mapping: -1, size: size, backing: .mergeable)
            try allowMerging()
            return
        }
        let fd = ckvm_memfd_create("vmm-guest-ram", UInt32(MFD_CLOEXEC))
        guard fd >= 0 else { throw .system("memfd_create", errno) }
        guard ftruncate(fd, off_t(size)) == 0 else {
            let code = errno
            close(fd)
            throw .system("ftruncate guest memory to \(size) bytes", code)
        }
        try self.init(mapping: fd, size: size, backing: .anonymous)
        // Transparent huge pages where the host allows them for shared memory; a refusal is fine.
        _ = madvise(base, Int(size), MADV_HUGEPAGE)
    }

    /// Maps `fileDescriptor` (a snapshot's memory file, `size` bytes long) copy-on-write;
    /// takes ownership of the descriptor.
    public convenience init(snapshotFile fd: Int32, size: UInt64) throws(VMMError) {
        try self.init(mapping: fd, size: size, backing: .snapshotFile)
    }

    /// Maps `fd` whole, shared for a memfd, private for a snapshot file, or private anonymous
    /// memory for mergeable RAM (`fd` -1); closes `fd` on failure.
    private init(mapping fd: Int32, size: UInt64, backing: Backing) throws(VMMError) {
        let flags: Int32
        switch backing {
        case .anonymous: flags = MAP_SHARED
        case .snapshotFile: flags = MAP_PRIVATE
        case .mergeable: flags = MAP_PRIVATE | MAP_ANONYMOUS
        }
        guard let mapping = mmap(nil, Int(size), PROT_READ | PROT_WRITE, flags | MAP_NORESERVE, fd, 0),
              mapping != MAP_FAILED
        else {
            let code = errno
            if fd >= 0 { close(fd) }
            throw .system("mmap \(size) bytes of guest memory", code)
        }
        // A core dump of vmm should not carry the guest's memory.
        _ = madvise(mapping, Int(size), MADV_DONTDUMP)
        self.size = size
        self.fileDescriptor = fd
        self.base = mapping
        self.regions = GuestMemoryMap.ramRegions(size: size)
        self.backing = backing
        self.deviceWrites = DeviceWriteLog(size: size)
        self.discardedFilePages = backing == .snapshotFile ? DiscardedPages(size: size) : nil
    }

    /// Lets the kernel's same-page merging (KSM) merge this RAM's pages with identical pages
    /// elsewhere (`--merge-pages`): KSM merges private anonymous pages, so all of mergeable
    /// RAM, and of a snapshot file's copy-on-write mapping the pages the guest has written
    /// (the others are the file's page cache, which every VM restored from it shares anyway).
    public func allowMerging() throws(VMMError) {
        precondition(backing != .anonymous, "KSM never merges a memfd's shared pages")
        guard madvise(base, Int(size), MADV_MERGEABLE) == 0 else {
            let code = errno
            throw code == EINVAL
                ? .invalidConfiguration("--merge-pages: this kernel has no same-page merging (CONFIG_KSM)")
                : .system("madvise(MADV_MERGEABLE) of guest memory", code)
        }
    }

    deinit {
        munmap(base, Int(size))
        if fileDescriptor >= 0 { close(fileDescriptor) }
    }

    /// Host pointer for `count` bytes at `guestAddress`, or nil unless they lie in one RAM region.
    @inline(__always)
    public func pointer(at guestAddress: UInt64, count: Int) -> UnsafeMutableRawPointer? {
        guard count >= 0 else { return nil }
        for region in regions where guestAddress >= region.guestAddress && guestAddress < region.end {
            let (last, overflow) = guestAddress.addingReportingOverflow(UInt64(count))
            guard !overflow, last <= region.end else { return nil }
            return base + Int(region.offset + (guestAddress - region.guestAddress))
        }
        return nil
    }

    /// Where `count` bytes at `guestAddress` lie in the memfd, or nil unless in one RAM region.
    public func fileOffsets(of guestAddress: UInt64, count: Int) -> Range<UInt64>? {
        guard let pointer = pointer(at: guestAddress, count: count) else { return nil }
        let start = UInt64(pointer - base)
        return start..<start + UInt64(count)
    }

    /// Records that a device thread is about to write `count` bytes at `guestAddress`, for
    /// the dirty tracking of a snapshot or migration taken while the guest runs.
    @inline(__always)
    public func noteDeviceWrite(at guestAddress: UInt64, count: Int) {
        guard deviceWrites.isEnabled, let offsets = fileOffsets(of: guestAddress, count: count) else { return }
        deviceWrites.note(offsets)
    }

    /// Whether `count` bytes at `guestAddress` are guest RAM.
    public func contains(_ guestAddress: UInt64, count: Int) -> Bool {
        pointer(at: guestAddress, count: count) != nil
    }

    public func write(_ bytes: some Collection<UInt8>, at guestAddress: UInt64) throws(VMMError) {
        guard let destination = pointer(at: guestAddress, count: bytes.count) else {
            throw .outOfGuestMemory(guestAddress, bytes.count)
        }
        let buffer = UnsafeMutableRawBufferPointer(start: destination, count: bytes.count)
        buffer.copyBytes(from: bytes)
    }

    public func write<T: FixedWidthInteger>(_ value: T, at guestAddress: UInt64) throws(VMMError) {
        guard let destination = pointer(at: guestAddress, count: MemoryLayout<T>.size) else {
            throw .outOfGuestMemory(guestAddress, MemoryLayout<T>.size)
        }
        destination.storeBytes(of: value.littleEndian, as: T.self)
    }

    public func read<T: FixedWidthInteger>(_: T.Type, at guestAddress: UInt64) -> T? {
        guard let source = pointer(at: guestAddress, count: MemoryLayout<T>.size) else { return nil }
        return T(littleEndian: source.loadUnaligned(as: T.self))
    }

    public func readBytes(at guestAddress: UInt64, count: Int) -> [UInt8]? {
        guard let source = pointer(at: guestAddress, count: count) else { return nil }
        return Array(UnsafeRawBufferPointer(start: source, count: count))
    }
}
