/// Routes MMIO exits to the device registered for the guest-physical address.
///
/// Addresses nobody claims read as all-ones and ignore writes. Built once before the
/// vCPUs start and read-only afterwards, so lookups take no lock.
///
/// The 32-bit MMIO window below 4 GiB (PCI BARs, ECAM, IOAPIC, LAPIC), where every MMIO
/// exit of this platform lands, is looked up in a table with one byte per 4 KiB page
/// (device slot + 1, 0 for none, or `sharedPage` where a page holds several ranges);
/// other addresses, and shared pages, scan the ranges. Devices are called in place,
/// borrowed, without reference counting. The table is an anonymous mapping: only pages of
/// it that describe claimed addresses take memory.
public final class MMIOBus: @unchecked Sendable {
    private static let windowStart: UInt64 = GuestMemoryMap.mmioHoleStart
    private static let windowEnd: UInt64 = 1 << 32
    private static let pageShift: UInt64 = 12
    private static let pageCount = Int((windowEnd - windowStart) >> pageShift)
    private static let sharedPage: UInt8 = 0xff

    private let slotOfPage = ZeroedTable(count: MMIOBus.pageCount)
    /// Retained once here and borrowed for each call (`_withUnsafeGuaranteedRef`).
    private let slots: UnsafeMutablePointer<Unmanaged<Slot>>
    private let slotCount: Int
    private let unhandled: UnhandledAccessLog

    init(ranges: DeviceRanges<UInt64, any MMIODevice>, unhandled: UnhandledAccessLog) {
        let entries = ranges.entries
        precondition(entries.count < Int(Self.sharedPage), "at most 254 MMIO ranges")
        slots = .allocate(capacity: max(entries.count, 1))
        slotCount = entries.count
        for (index, entry) in entries.enumerated() {
            (slots + index).initialize(to: .passRetained(Slot(device: entry.device, base: entry.base, size: entry.size)))
        }
        var owner = [Int: Int]()
        for (index, entry) in entries.enumerated() {
            let start = max(entry.base, Self.windowStart), end = min(entry.base + entry.size, Self.windowEnd)
            guard start < end else { continue }
            for page in Int((start - Self.windowStart) >> Self.pageShift)...Int((end - 1 - Self.windowStart) >> Self.pageShift) {
                let pageStart = Self.windowStart + UInt64(page) << Self.pageShift
                let wholePage = entry.base <= pageStart && pageStart + (1 << Self.pageShift) <= entry.base + entry.size
                slotOfPage[page] = wholePage && owner[page] == nil ? UInt8(index + 1) : Self.sharedPage
                owner[page] = index
            }
        }
        self.unhandled = unhandled
    }

    deinit {
        for index in 0..<slotCount { slots[index].release() }
        slots.deallocate()
    }

    @inline(__always)
    public func read(address: UInt64, size: Int) -> UInt64 {
        if let slot = slot(of: address) {
            return slots[slot]._withUnsafeGuaranteedRef { $0.device.read(offset: address &- $0.base, size: size) }
        }
        unhandled.note(.mmioRead, address: address)
        return size >= 8 ? .max : (1 << UInt64(size * 8)) - 1
    }

    @inline(__always)
    public func write(address: UInt64, size: Int, value: UInt64) {
        if let slot = slot(of: address) {
            slots[slot]._withUnsafeGuaranteedRef { $0.device.write(offset: address &- $0.base, size: size, value: value) }
            return
        }
        unhandled.note(.mmioWrite, address: address)
    }

    @inline(__always)
    private func slot(of address: UInt64) -> Int? {
        let page = (address &- Self.windowStart) >> Self.pageShift
        if page < UInt64(Self.pageCount) {
            let entry = slotOfPage[Int(page)]
            if entry == 0 { return nil }
            if entry != Self.sharedPage { return Int(entry) - 1 }
        }
        return scan(address)
    }

    @inline(never)
    private func scan(_ address: UInt64) -> Int? {
        for index in 0..<slotCount {
            let slot = slots[index].takeUnretainedValue()
            if address &- slot.base < slot.size { return index }
        }
        return nil
    }
}

extension MMIOBus {
    private final class Slot {
        let device: any MMIODevice
        let base: UInt64
        let size: UInt64

        init(device: any MMIODevice, base: UInt64, size: UInt64) {
            self.device = device
            self.base = base
            self.size = size
        }
    }

    /// Collects registrations, rejecting overlaps, then freezes them into a bus.
    public struct Builder {
        private var ranges = DeviceRanges<UInt64, any MMIODevice>()
        private let unhandled: UnhandledAccessLog

        public init(unhandled: UnhandledAccessLog) { self.unhandled = unhandled }

        public mutating func register(_ device: any MMIODevice, base: UInt64, size: UInt64) {
            ranges.claim(base: base, size: size, for: device)
        }

        public func build() -> MMIOBus { MMIOBus(ranges: ranges, unhandled: unhandled) }
    }
}
