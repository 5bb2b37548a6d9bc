import Testing
@testable import VMMCore

/// The split virtqueue against a driver that writes rings into real guest memory, the
/// well-behaved way and the hostile ways.
struct VirtqueueTests {
    let memory: GuestMemory
    let ring: TestDriverRing

    init() throws {
        memory = try GuestMemory(size: 4 << 20)
        ring = try TestDriverRing(memory: memory, base: 0x10_0000, size: 16)
    }

    private func queue(eventIndex: Bool = false, indirect: Bool = true) throws -> Virtqueue {
        try Virtqueue(layout: ring.layout, maximumSize: 256, memory: memory, eventIndex: eventIndex, indirectDescriptors: indirect)
    }

    private var usedFlags: UInt16 { memory.read(UInt16.self, at: ring.layout.usedRing)! }
    private var availableEvent: UInt16 { memory.read(UInt16.self, at: ring.layout.usedRing + 4 + 8 * 16)! }

    /// Writes descriptor `index` of the direct table.
    private func descriptor(_ index: UInt64, address: UInt64, length: UInt32, flags: UInt16, next: UInt16 = 0) throws {
        let entry = ring.layout.descriptorTable + 16 * index
        try memory.write(address, at: entry)
        try memory.write(length, at: entry + 8)
        try memory.write(flags, at: entry + 12)
        try memory.write(next, at: entry + 14)
    }

    /// Makes descriptor `head` available without touching the table.
    private func makeAvailable(head: UInt16) throws {
        try memory.write(head, at: ring.layout.availableRing + 4)
        try memory.write(UInt16(1), at: ring.layout.availableRing + 2)
    }

    @Test func chainsComeBackInOrderWithReadableBuffersFirst() throws {
        let queue = try queue()
        let head = ring.post([.init(address: 0x20_0000, length: 16, writable: false), .init(address: 0x20_1000, length: 512, writable: true)])
        let chain = try #require(try queue.nextChain())
        #expect(chain.head == head)
        #expect(chain.readable.map(\.address) == [0x20_0000] && chain.readableCount == 16)
        #expect(chain.writable.map(\.address) == [0x20_1000] && chain.writableCount == 512)
        #expect(try queue.nextChain() == nil)
        queue.addUsed(head: chain.head, written: 512)
        #expect(ring.takeUsed().map(\.length) == [512])
    }

    @Test func busyQueueAsksTheDriverNotToNotifyAndAnEmptyOneAsksAgain() throws {
        let queue = try queue()
        ring.post([.init(address: 0x20_0000, length: 8, writable: true)])
        ring.post([.init(address: 0x20_1000, length: 8, writable: true)])
        _ = try queue.nextChain()
        #expect(usedFlags == 1, "VIRTQ_USED_F_NO_NOTIFY while chains remain")
        _ = try queue.nextChain()
        #expect(try queue.nextChain() == nil)
        #expect(usedFlags == 0)
    }

    @Test func withEventIndexAnEmptyQueuePublishesWhereToNotify() throws {
        let queue = try queue(eventIndex: true)
        for _ in 0..<3 { ring.post([.init(address: 0x20_0000, length: 8, writable: true)]) }
        while try queue.nextChain() != nil {}
        #expect(availableEvent == 3)
        #expect(usedFlags == 0, "EVENT_IDX drivers ignore the flag; the device leaves it clear")
    }

    @Test func interruptsFollowUsedEventOrTheNoInterruptFlag() throws {
        let withIndex = try queue(eventIndex: true)
        try memory.write(UInt16(1), at: ring.layout.availableRing + 4 + 2 * 16)  // used_event: after the second entry
        withIndex.addUsed(head: 0, written: 0)
        #expect(!withIndex.needsInterrupt())
        withIndex.addUsed(head: 1, written: 0)
        #expect(withIndex.needsInterrupt())

        let plain = try queue()
        try memory.write(UInt16(1), at: ring.layout.availableRing)  // VIRTQ_AVAIL_F_NO_INTERRUPT
        plain.addUsed(head: 0, written: 0)
        #expect(!plain.needsInterrupt())
        try memory.write(UInt16(0), at: ring.layout.availableRing)
        plain.addUsed(head: 1, written: 0)
        #expect(plain.needsInterrupt())
    }

    @Test func layoutsOutsideTheRulesAreRefused() throws {
        func make(_ layout: Virtqueue.Layout) -> VirtqueueError? {
            do {
                _ = try Virtqueue(layout: layout, maximumSize: 256, memory: memory, eventIndex: false, indirectDescriptors: false)
                return nil
            } catch { return error }
        }
        var layout = ring.layout
        layout.size = 3
        #expect(make(layout) == .sizeNotPowerOfTwo(3))
        layout.size = 512
        #expect(make(layout) == .sizeTooLarge(size: 512, maximum: 256))
        layout = ring.layout
        layout.descriptorTable += 8
        #expect(make(layout) == .misaligned(area: "descriptor table", address: layout.descriptorTable))
        layout = ring.layout
        layout.usedRing = (4 << 20) - 8
        #expect(make(layout) == .areaOutsideGuestMemory(area: "used ring", address: layout.usedRing, length: 6 + 8 * 16))
    }

    @Test func aDescriptorLoopEndsAtTheQueueSize() throws {
        try descriptor(0, address: 0x20_0000, length: 8, flags: 1, next: 1)
        try descriptor(1, address: 0x20_0000, length: 8, flags: 1, next: 0)
        try makeAvailable(head: 0)
        let queue = try queue()
        #expect(throws: VirtqueueError.chainTooLong(limit: 16)) { try queue.nextChain() }
        // A broken queue stays out of use until the device is reset.
        #expect(queue.isBroken)
        #expect(try queue.nextChain() == nil)
        queue.addUsed(head: 0, written: 8)
        #expect(memory.read(UInt16.self, at: ring.layout.usedRing + 2) == 0)
        #expect(!queue.needsInterrupt())
    }

    @Test func hostileDescriptorsAreRefused() throws {
        try descriptor(0, address: 0x20_0000, length: 8, flags: 2 | 1, next: 1)  // writable, then
        try descriptor(1, address: 0x20_0000, length: 8, flags: 0)              // readable
        try makeAvailable(head: 0)
        #expect(throws: VirtqueueError.readableAfterWritable) { try queue().nextChain() }

        try descriptor(0, address: 0x3F_FFF0, length: 0x20, flags: 0)
        #expect(throws: VirtqueueError.bufferOutsideGuestMemory(address: 0x3F_FFF0, length: 0x20)) { try queue().nextChain() }

        try descriptor(0, address: 0x20_0000, length: 8, flags: 1, next: 99)
        #expect(throws: VirtqueueError.descriptorIndexOutOfRange(99)) { try queue().nextChain() }

        try memory.write(UInt16(40), at: ring.layout.availableRing + 2)
        #expect(throws: VirtqueueError.availableIndexJump(from: 0, to: 40)) { try queue().nextChain() }
    }

    @Test func indirectTablesAreCheckedAndBounded() throws {
        let table: UInt64 = 0x30_0000
        try makeAvailable(head: 0)
        try descriptor(0, address: table, length: 16, flags: 4)
        #expect(throws: VirtqueueError.indirectNotNegotiated) { try queue(indirect: false).nextChain() }

        try memory.write(UInt64(0x20_0000), at: table)
        try memory.write(UInt32(64), at: table + 8)
        try memory.write(UInt16(2), at: table + 12)
        let chain = try #require(try queue().nextChain())
        #expect(chain.writable.map(\.address) == [0x20_0000] && chain.writableCount == 64)

        try descriptor(0, address: table, length: 24, flags: 4)
        #expect(throws: VirtqueueError.invalidIndirectTableLength(24)) { try queue().nextChain() }
        try descriptor(0, address: table, length: 16 * 1025, flags: 4)
        #expect(throws: VirtqueueError.chainTooLong(limit: 1024)) { try queue().nextChain() }
        try descriptor(0, address: table, length: 16, flags: 4 | 1)
        #expect(throws: VirtqueueError.indirectWithNext) { try queue().nextChain() }
        try memory.write(UInt16(4), at: table + 12)
        try descriptor(0, address: table, length: 16, flags: 4)
        #expect(throws: VirtqueueError.nestedIndirectTable) { try queue().nextChain() }
    }
}
