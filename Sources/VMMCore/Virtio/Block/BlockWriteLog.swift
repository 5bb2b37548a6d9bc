import Synchronization

/// The parts of a disk written while a snapshot (or a migration) copies it as the guest
/// runs, in 64 KiB chunks, so the final pass copies only those.
public final class BlockWriteLog: Sendable {
    static let chunkSize: UInt64 = 64 << 10

    private let enabled = Atomic<Bool>(false)
    private let chunks = Mutex<Set<UInt64>>([])

    var isEnabled: Bool { enabled.load(ordering: .acquiring) }

    func start() {
        chunks.withLock { $0 = [] }
        enabled.store(true, ordering: .releasing)
    }

    func stop() {
        enabled.store(false, ordering: .releasing)
        chunks.withLock { $0 = [] }
    }

    func note(offset: UInt64, length: UInt64) {
        guard isEnabled, length > 0 else { return }
        let first = offset / Self.chunkSize, last = (offset + length - 1) / Self.chunkSize
        chunks.withLock { chunks in for chunk in first...last { chunks.insert(chunk) } }
    }

    /// The chunks written since `start` or the last call, as byte ranges, clipped to `size`.
    func take(size: UInt64) -> [Range<UInt64>] {
        let taken = chunks.withLock { chunks -> Set<UInt64> in
            defer { chunks = [] }
            return chunks
        }
        return taken.sorted().map { chunk in
            chunk * Self.chunkSize..<min((chunk + 1) * Self.chunkSize, size)
        }
    }
}

/// Storage that notes every change in a `BlockWriteLog` before passing it on.
struct LoggedBlockStorage: BlockStorage {
    let base: any BlockStorage
    let log: BlockWriteLog

    var size: UInt64 { base.size }
    var isReadOnly: Bool { base.isReadOnly }

    func read(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws(VMMError) {
        try base.read(into: buffers, at: offset)
    }

    func write(from buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(VMMError) {
        log.note(offset: offset, length: buffers.reduce(0) { $0 + UInt64($1.count) })
        try base.write(from: buffers, at: offset)
    }

    func flush() throws(VMMError) { try base.flush() }

    func discard(offset: UInt64, length: UInt64) throws(VMMError) {
        log.note(offset: offset, length: length)
        try base.discard(offset: offset, length: length)
    }

    func writeZeroes(offset: UInt64, length: UInt64, mayUnmap: Bool) throws(VMMError) {
        log.note(offset: offset, length: length)
        try base.writeZeroes(offset: offset, length: length, mayUnmap: mayUnmap)
    }
}
