#if canImport(Glibc)
import Glibc
#endif

/// Byte ranges of one disk (its index in the configuration's disks).
struct DiskRanges {
    let index: Int
    var ranges: [Range<UInt64>]

    var byteCount: UInt64 { ranges.reduce(0) { $0 + UInt64($1.count) } }
}

/// The source's writable disks during a migration: with copy-storage their contents go
/// into the stream (allocated extents, then the chunks `BlockWriteLog` saw written);
/// with shared storage they are synced and unlocked in the pause, so the destination can
/// open them, and locked again if the migration fails.
struct MigrationDiskSource {
    private let disks: [(index: Int, device: VirtioBlockDevice, image: BlockImage)]
    let copyStorage: Bool

    init(_ machine: Machine, copyStorage: Bool) {
        disks = machine.devices.blockDevices.enumerated().compactMap { index, device in
            guard let image = device.image, !image.isReadOnly else { return nil }
            return (index, device, image)
        }
        self.copyStorage = copyStorage
    }

    func startLogging() {
        guard copyStorage else { return }
        for disk in disks { disk.device.writeLog.start() }
    }

    func stopLogging() {
        for disk in disks { disk.device.writeLog.stop() }
    }

    /// What holds data on each disk (holes need not be sent: the destination's disk
    /// starts empty).
    func allocatedExtents() throws(VMMError) -> [DiskRanges] {
        guard copyStorage else { return [] }
        var result: [DiskRanges] = []
        for disk in disks {
            result.append(DiskRanges(
                index: disk.index, ranges: try FileExtents.data(of: disk.image.fileDescriptor, size: disk.image.size, what: disk.image.path)))
        }
        return result
    }

    /// The chunks written since the last call.
    func takeWritten() -> [DiskRanges] {
        guard copyStorage else { return [] }
        return disks.map { DiskRanges(index: $0.index, ranges: $0.device.writeLog.take(size: $0.image.size)) }
    }

    /// Reads `count` bytes of disk `index` at `offset` into `buffer`.
    func read(_ index: Int, at offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws(VMMError) {
        guard let disk = disks.first(where: { $0.index == index }) else { return }
        var done = 0
        while done < count {
            let read = pread(disk.image.fileDescriptor, buffer + done, count - done, off_t(offset) + off_t(done))
            if read < 0 && errno == EINTR { continue }
            guard read > 0 else { throw .system("read disk image \(disk.image.path)", read < 0 ? errno : EIO) }
            done += read
        }
    }

    /// Shared storage, in the pause: sync each image and let go of its lock.
    func releaseLocks() throws(VMMError) {
        guard !copyStorage else { return }
        for disk in disks { try disk.image.releaseLock() }
    }

    /// After a failed migration: lock the images again (returns what could not be locked).
    func reacquireLocks() -> [String] {
        guard !copyStorage else { return [] }
        var failures: [String] = []
        for disk in disks {
            do throws(VMMError) { try disk.image.reacquireLock() } catch { failures.append(error.description) }
        }
        return failures
    }
}
