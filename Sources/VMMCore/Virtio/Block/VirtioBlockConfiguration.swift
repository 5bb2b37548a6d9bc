/// The virtio-blk configuration structure (virtio 1.x §5.2.4) and the request limits it
/// promises the driver; requests beyond them are rejected.
struct VirtioBlockConfiguration: Equatable, Sendable {
    /// Disk size in 512-byte sectors.
    var capacity: UInt64
    /// Largest data segment (descriptor) in bytes; with `segmentMaximum` it bounds the
    /// work one request can ask for.
    var sizeMaximum: UInt32 = 1 << 20
    /// Most data segments in a request: the queue size less header and status, as QEMU does.
    var segmentMaximum: UInt32 = 254
    var blockSize: UInt32 = 512
    var maximumDiscardSectors: UInt32 = 1 << 22
    var maximumDiscardSegments: UInt32 = 32
    /// Smaller holes than a host page only zero bytes and free nothing.
    var discardSectorAlignment: UInt32 = 8
    var maximumWriteZeroesSectors: UInt32 = 1 << 22
    var maximumWriteZeroesSegments: UInt32 = 32
    var writeZeroesMayUnmap = true

    static let sectorSize: UInt64 = 512

    /// The structure as the driver reads it, little-endian. Geometry, topology, writeback
    /// and num_queues stay zero: their features are not offered.
    var bytes: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 60)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + $0.count, with: $0) }
        }
        put(capacity, at: 0)
        put(sizeMaximum, at: 8)
        put(segmentMaximum, at: 12)
        put(blockSize, at: 20)
        put(maximumDiscardSectors, at: 36)
        put(maximumDiscardSegments, at: 40)
        put(discardSectorAlignment, at: 44)
        put(maximumWriteZeroesSectors, at: 48)
        put(maximumWriteZeroesSegments, at: 52)
        put(UInt8(writeZeroesMayUnmap ? 1 : 0), at: 56)
        return bytes
    }

    /// Whether `sectors` sectors starting at `sector` lie on the disk, without overflowing.
    func contains(sector: UInt64, sectors: UInt64) -> Bool {
        sector <= capacity && sectors <= capacity - sector
    }
}
