@testable import VMMCore

/// One fuzz input as a driver's view of a virtqueue: the first bytes choose the queue size
/// and ring features, the rest is what the driver wrote to guest memory (descriptor table,
/// available ring, indirect tables). The device side must either return chains whose every
/// buffer lies inside guest RAM or report a `VirtqueueError`; each chain then goes
/// through the virtio-blk request parser, whose accepted requests must lie inside the disk.
enum VirtqueueFuzzCase {
    static let memory: GuestMemory = {
        do { return try GuestMemory(size: GuestMemoryMap.minimumSize) } catch { fatalError("guest memory: \(error)") }
    }()
    static let guestWindow: UInt64 = 0x1000
    static let guestWindowSize = 0x2_0000
    // The available ring and descriptor table sit where short inputs reach them.
    static let availableRing: UInt64 = 0x1000
    static let descriptorTable: UInt64 = 0x1200
    static let usedRing: UInt64 = 0x8000
    static let disk = VirtioBlockConfiguration(capacity: 2048)
    /// How much of the window the previous input wrote, so only that needs clearing.
    nonisolated(unsafe) static var dirtyLength = guestWindowSize

    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 2 else { return }
        let window = memory.pointer(at: guestWindow, count: guestWindowSize)!
        window.initializeMemory(as: UInt8.self, repeating: 0, count: dirtyLength)
        dirtyLength = min(input.count - 2, guestWindowSize)
        window.copyMemory(from: input.baseAddress! + 2, byteCount: dirtyLength)

        let layout = Virtqueue.Layout(
            size: UInt16(1) << (input[0] & 0x0f) ^ UInt16(input[0] >> 4),  // mostly powers of two, sometimes not
            descriptorTable: descriptorTable, availableRing: availableRing, usedRing: usedRing)
        guard let queue = try? Virtqueue(
            layout: layout, maximumSize: 256, memory: memory, eventIndex: input[1] & 1 != 0,
            indirectDescriptors: input[1] & 2 != 0)
        else { return }
        for _ in 0..<64 {
            guard let chain = try? queue.nextChain() else { return }
            for buffer in chain.readable + chain.writable { checkInsideGuestMemory(buffer) }
            checkBlockRequest(VirtioBlockRequest(chain: chain, configuration: disk, readOnly: input[1] & 4 != 0))
            _ = chain.read(count: 4096)
            chain.write(repeatElement(0xA5, count: 4096))
            queue.addUsed(head: chain.head, written: UInt32(truncatingIfNeeded: chain.writableCount))
            _ = queue.needsInterrupt()
        }
    }

    private static func checkBlockRequest(_ request: VirtioBlockRequest) {
        func checkInsideDisk(sector: UInt64, _ buffers: [UnsafeMutableRawBufferPointer]) {
            let bytes = buffers.reduce(0) { $0 + UInt64($1.count) }
            precondition(bytes % 512 == 0 && sector <= disk.capacity && bytes / 512 <= disk.capacity - sector,
                         "request outside the disk")
        }
        switch request.operation {
        case .read(let sector, let buffers), .write(let sector, let buffers): checkInsideDisk(sector: sector, buffers)
        case .discard(let segments), .writeZeroes(let segments):
            for segment in segments {
                precondition(segment.sector <= disk.capacity && UInt64(segment.sectors) <= disk.capacity - segment.sector,
                             "segment outside the disk")
            }
        case .flush, .getID, .reject: break
        }
    }

    private static func checkInsideGuestMemory(_ buffer: GuestBuffer) {
        let start = UInt(bitPattern: memory.base)
        let address = UInt(bitPattern: buffer.bytes.baseAddress)
        precondition(buffer.count == 0 || (address >= start && address + UInt(buffer.count) <= start + UInt(memory.size)),
                     "buffer outside guest memory")
    }
}
