import Glibc
@testable import VMMCore

/// The driver's side of one split virtqueue: rings at `base`, a fresh descriptor per buffer.
final class TestDriverRing: @unchecked Sendable {
    struct Buffer {
        var address: UInt64
        var length: UInt32
        var writable: Bool
    }

    let memory: GuestMemory
    let layout: Virtqueue.Layout
    let notifier: EventNotifier
    private var nextDescriptor: UInt16 = 0
    private var availableIndex: UInt16 = 0
    private var usedSeen: UInt16 = 0

    init(memory: GuestMemory, base: UInt64, size: UInt16 = 64) throws {
        self.memory = memory
        layout = .init(size: size, descriptorTable: base, availableRing: base + 0x1000, usedRing: base + 0x2000)
        notifier = try EventNotifier()
    }

    func makeQueue(features: UInt64) throws -> Virtqueue {
        try Virtqueue(
            layout: layout, maximumSize: 256, memory: memory, eventIndex: features & VirtioFeature.eventIndex != 0,
            indirectDescriptors: true)
    }

    /// Chains `buffers`, makes the chain available and (unless told not to) notifies.
    @discardableResult
    func post(_ buffers: [Buffer], notify: Bool = true) -> UInt16 {
        let head = nextDescriptor
        for (position, buffer) in buffers.enumerated() {
            let index = nextDescriptor
            nextDescriptor = (nextDescriptor + 1) % layout.size
            let entry = layout.descriptorTable + 16 * UInt64(index)
            let last = position == buffers.count - 1
            try! memory.write(buffer.address, at: entry)
            try! memory.write(buffer.length, at: entry + 8)
            try! memory.write(UInt16((last ? 0 : 1) | (buffer.writable ? 2 : 0)), at: entry + 12)
            try! memory.write(last ? 0 : nextDescriptor, at: entry + 14)
        }
        try! memory.write(head, at: layout.availableRing + 4 + 2 * UInt64(availableIndex % layout.size))
        availableIndex &+= 1
        try! memory.write(availableIndex, at: layout.availableRing + 2)
        if notify { notifier.signal() }
        return head
    }

    /// Used entries published since the last call, waiting up to `timeout` seconds for `count` of them.
    func takeUsed(count: Int = 1, timeout: Double = 5) -> [(head: UInt16, length: UInt32)] {
        var entries: [(head: UInt16, length: UInt32)] = []
        for _ in 0..<Int(timeout * 1000) {
            let index = memory.read(UInt16.self, at: layout.usedRing + 2)!
            while usedSeen != index {
                let entry = layout.usedRing + 4 + 8 * UInt64(usedSeen % layout.size)
                entries.append((UInt16(memory.read(UInt32.self, at: entry)!), memory.read(UInt32.self, at: entry + 4)!))
                usedSeen &+= 1
            }
            if entries.count >= count { break }
            usleep(1000)
        }
        return entries
    }
}
