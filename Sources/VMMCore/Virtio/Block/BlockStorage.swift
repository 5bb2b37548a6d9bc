/// Where a virtio-blk disk keeps its sectors: a raw image (`BlockImage`) in a VM, or a
/// wrapper around one that observes or delays calls in tests.
///
/// Several I/O threads call one storage at once. Callers have already checked offsets and
/// lengths against `size`; a thrown error becomes VIRTIO_BLK_S_IOERR for the guest.
public protocol BlockStorage: Sendable {
    /// The disk's size in bytes, a multiple of 512.
    var size: UInt64 { get }
    var isReadOnly: Bool { get }

    /// Fills `buffers`, in order, with the bytes starting at `offset`.
    func read(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws(VMMError)
    /// Stores the bytes of `buffers`, in order, starting at `offset`; returns once all of them
    /// have been handed to the host kernel.
    func write(from buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(VMMError)
    /// Returns once every write that returned before this call is on stable storage.
    func flush() throws(VMMError)
    /// Lets the host free the range; it reads as zeros afterwards.
    func discard(offset: UInt64, length: UInt64) throws(VMMError)
    /// Makes the range read as zeros; `mayUnmap` allows freeing it to get there.
    func writeZeroes(offset: UInt64, length: UInt64, mayUnmap: Bool) throws(VMMError)
}
