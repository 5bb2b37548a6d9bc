import Synchronization

/// The device side of a split virtqueue (virtio 1.x §2.7) in guest memory.
///
/// Everything read from the rings is guest-controlled: indices are range-checked, chains
/// are bounded by the queue size (so loops end), and every buffer is translated through
/// `GuestMemory`, which refuses anything outside guest RAM. One device thread owns a
/// queue at a time; the class does no locking of its own.
public final class Virtqueue: @unchecked Sendable {
    /// Where the driver put the queue, as written to the transport's queue registers.
    public struct Layout: Equatable, Sendable {
        public var size: UInt16
        public var descriptorTable: UInt64
        public var availableRing: UInt64
        public var usedRing: UInt64

        public init(size: UInt16, descriptorTable: UInt64, availableRing: UInt64, usedRing: UInt64) {
            self.size = size
            self.descriptorTable = descriptorTable
            self.availableRing = availableRing
            self.usedRing = usedRing
        }
    }

    private enum DescriptorFlag {
        static let next: UInt16 = 1
        static let write: UInt16 = 2
        static let indirect: UInt16 = 4
    }

    private static let descriptorSize = 16
    /// The longest indirect table accepted (QEMU's limit too): a guest could otherwise make
    /// one chain list 2^28 buffers.
    static let maximumIndirectDescriptors = 1024
    private static let availableNoInterrupt: UInt16 = 1
    private static let usedNoNotify: UInt16 = 1

    public let layout: Layout
    private let memory: GuestMemory
    private let eventIndex: Bool
    private let indirect: Bool
    private let descriptors: UnsafeMutableRawPointer
    private let available: UnsafeMutableRawPointer
    private let used: UnsafeMutableRawPointer
    private var size: Int { Int(layout.size) }

    /// The next available-ring slot the device will read.
    public private(set) var nextAvailable: UInt16 = 0
    /// The used index the device last published.
    public private(set) var usedIndex: UInt16 = 0
    private var usedIndexAtLastInterrupt: UInt16 = 0
    /// Whether used.flags asks the driver not to notify (without EVENT_IDX).
    private var notificationsSuppressed = false
    /// Set once the driver broke the ring rules: from then on the queue yields no chains,
    /// takes no used entries and asks for no interrupts, until the device is reset.
    public private(set) var isBroken = false

    /// Where the device is in the rings: what a snapshot or a migration carries, so that a
    /// restored device neither serves a request twice nor skips one.
    public struct Position: Equatable, Sendable {
        public var nextAvailable: UInt16
        public var usedIndex: UInt16
        public var usedIndexAtLastInterrupt: UInt16
        public var notificationsSuppressed: Bool
        public var isBroken: Bool
    }

    /// Only while no device thread owns the queue (the device is quiesced or not started).
    public var position: Position {
        get {
            Position(
                nextAvailable: nextAvailable, usedIndex: usedIndex, usedIndexAtLastInterrupt: usedIndexAtLastInterrupt,
                notificationsSuppressed: notificationsSuppressed, isBroken: isBroken)
        }
        set {
            nextAvailable = newValue.nextAvailable
            usedIndex = newValue.usedIndex
            usedIndexAtLastInterrupt = newValue.usedIndexAtLastInterrupt
            notificationsSuppressed = newValue.notificationsSuppressed
            isBroken = newValue.isBroken
        }
    }

    /// Checks the layout against the spec's size and alignment rules and guest memory.
    public init(
        layout: Layout, maximumSize: UInt16, memory: GuestMemory, eventIndex: Bool, indirectDescriptors: Bool
    ) throws(VirtqueueError) {
        let size = Int(layout.size)
        guard size > 0, size & (size - 1) == 0 else { throw .sizeNotPowerOfTwo(layout.size) }
        guard layout.size <= maximumSize else { throw .sizeTooLarge(size: layout.size, maximum: maximumSize) }
        func area(_ name: String, _ address: UInt64, _ length: Int, alignment: UInt64) throws(VirtqueueError)
            -> UnsafeMutableRawPointer
        {
            guard address % alignment == 0 else { throw .misaligned(area: name, address: address) }
            guard let pointer = memory.pointer(at: address, count: length) else {
                throw .areaOutsideGuestMemory(area: name, address: address, length: length)
            }
            return pointer
        }
        descriptors = try area("descriptor table", layout.descriptorTable, Self.descriptorSize * size, alignment: 16)
        // flags, idx, ring[size], used_event
        available = try area("available ring", layout.availableRing, 6 + 2 * size, alignment: 2)
        // flags, idx, ring[size] of (id, len), avail_event
        used = try area("used ring", layout.usedRing, 6 + 8 * size, alignment: 4)
        self.layout = layout
        self.memory = memory
        self.eventIndex = eventIndex
        self.indirect = indirectDescriptors
    }

    /// The next request the driver made available, or nil if there is none.
    ///
    /// While the device finds work it asks the driver not to notify (VIRTQ_USED_F_NO_NOTIFY,
    /// or avail_event with EVENT_IDX) since it will look again anyway; an empty queue
    /// re-enables notifications, then looks once more, because the driver may have added a
    /// buffer after the first look and before seeing the change.
    public func nextChain() throws(VirtqueueError) -> DescriptorChain? {
        guard !isBroken else { return nil }
        do {
            return try takeNextChain()
        } catch {
            isBroken = true
            throw error
        }
    }

    private func takeNextChain() throws(VirtqueueError) -> DescriptorChain? {
        if !hasAvailable() {
            enableNotifications()
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            guard hasAvailable() else { return nil }
        }
        if !eventIndex && !notificationsSuppressed {
            store(Self.usedNoNotify, at: used)
            notificationsSuppressed = true
        }
        let availableIndex = load(UInt16.self, at: available + 2)
        guard availableIndex &- nextAvailable <= layout.size else {
            throw .availableIndexJump(from: nextAvailable, to: availableIndex)
        }
        atomicMemoryFence(ordering: .acquiring)
        let slot = Int(nextAvailable % layout.size)
        let head = load(UInt16.self, at: available + 4 + 2 * slot)
        let chain = try walk(head: head)
        nextAvailable &+= 1
        return chain
    }

    private func enableNotifications() {
        if eventIndex {
            store(nextAvailable, at: used + 4 + 8 * size)
        } else if notificationsSuppressed {
            store(UInt16(0), at: used)
            notificationsSuppressed = false
        }
    }

    /// Returns a finished request to the driver with the number of bytes the device wrote.
    public func addUsed(head: UInt16, written: UInt32) {
        guard !isBroken else { return }
        let slot = Int(usedIndex % layout.size)
        store(UInt32(head), at: used + 4 + 8 * slot)
        store(written, at: used + 8 + 8 * slot)
        atomicMemoryFence(ordering: .releasing)
        usedIndex &+= 1
        store(usedIndex, at: used + 2)
    }

    /// Whether the driver wants an interrupt for the buffers used since the last one
    /// (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX). Call after `addUsed`.
    public func needsInterrupt() -> Bool {
        guard !isBroken else { return false }
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        defer { usedIndexAtLastInterrupt = usedIndex }
        if eventIndex {
            let usedEvent = load(UInt16.self, at: available + 4 + 2 * size)
            return usedIndex &- usedEvent &- 1 < usedIndex &- usedIndexAtLastInterrupt
        }
        return load(UInt16.self, at: available) & Self.availableNoInterrupt == 0
    }

    private func hasAvailable() -> Bool {
        load(UInt16.self, at: available + 2) != nextAvailable
    }

    private func walk(head: UInt16) throws(VirtqueueError) -> DescriptorChain {
        var readable: [GuestBuffer] = []
        var writable: [GuestBuffer] = []
        func take(address: UInt64, length: UInt32, flags: UInt16) throws(VirtqueueError) {
            guard let pointer = memory.pointer(at: address, count: Int(length)) else {
                throw .bufferOutsideGuestMemory(address: address, length: length)
            }
            let buffer = GuestBuffer(address: address, bytes: .init(start: pointer, count: Int(length)))
            if flags & DescriptorFlag.write != 0 {
                // Noted when handed out rather than when written: a snapshot drains the
                // device before its last pass, so no write lands after that pass.
                memory.noteDeviceWrite(at: address, count: Int(length))
                writable.append(buffer)
            } else {
                guard writable.isEmpty else { throw .readableAfterWritable }
                readable.append(buffer)
            }
        }

        var table = descriptors
        var tableCount = size
        var index = head
        var visited = 0
        var inIndirectTable = false
        while true {
            guard Int(index) < tableCount else { throw .descriptorIndexOutOfRange(index) }
            visited += 1
            guard visited <= tableCount else { throw .chainTooLong(limit: tableCount) }
            let entry = table + Self.descriptorSize * Int(index)
            let address = load(UInt64.self, at: entry)
            let length = load(UInt32.self, at: entry + 8)
            let flags = load(UInt16.self, at: entry + 12)
            let next = load(UInt16.self, at: entry + 14)

            if flags & DescriptorFlag.indirect != 0 {
                guard indirect else { throw .indirectNotNegotiated }
                guard !inIndirectTable else { throw .nestedIndirectTable }
                guard flags & DescriptorFlag.next == 0 else { throw .indirectWithNext }
                guard length > 0, length % UInt32(Self.descriptorSize) == 0 else {
                    throw .invalidIndirectTableLength(length)
                }
                guard Int(length) / Self.descriptorSize <= Self.maximumIndirectDescriptors else {
                    throw .chainTooLong(limit: Self.maximumIndirectDescriptors)
                }
                guard let pointer = memory.pointer(at: address, count: Int(length)) else {
                    throw .bufferOutsideGuestMemory(address: address, length: length)
                }
                table = pointer
                tableCount = Int(length) / Self.descriptorSize
                index = 0
                visited = 0
                inIndirectTable = true
                continue
            }
            try take(address: address, length: length, flags: flags)
            guard flags & DescriptorFlag.next != 0 else { break }
            index = next
        }
        return DescriptorChain(head: head, readable: readable, writable: writable)
    }

    @inline(__always)
    private func load<T: FixedWidthInteger>(_: T.Type, at pointer: UnsafeMutableRawPointer) -> T {
        T(littleEndian: pointer.loadUnaligned(as: T.self))
    }

    @inline(__always)
    private func store<T: FixedWidthInteger>(_ value: T, at pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: value.littleEndian, as: T.self)
    }
}
