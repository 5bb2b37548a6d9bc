/// Routes port I/O exits to the device registered for the port.
///
/// Built once before the vCPUs start and read-only afterwards, so lookups take no lock.
/// Ports nobody claims read as all-ones and ignore writes, as on a real ISA bus.
///
/// A lookup is one load from a 64 Ki-entry table (port → device slot), then a call on the
/// device in place: on the exit path this bus costs a handful of instructions and no
/// reference counting. The table is an anonymous mapping, so only the pages holding
/// claimed ports (for the PC layout, the first) take memory.
public final class PortIOBus: @unchecked Sendable {
    private static let portCount = 1 << 16

    /// Slot + 1 of the device claiming each port; 0 for none.
    private let slotOfPort = ZeroedTable(count: PortIOBus.portCount)
    /// Retained once here and borrowed for each call (`_withUnsafeGuaranteedRef`): loading
    /// an existential from memory for a call would otherwise retain and release it each time.
    private let slots: UnsafeMutablePointer<Unmanaged<Slot>>
    private let deviceCount: Int
    private let unhandled: UnhandledAccessLog

    init(ranges: DeviceRanges<UInt16, any PortIODevice>, unhandled: UnhandledAccessLog) {
        let entries = ranges.entries
        precondition(entries.count < 255, "at most 254 port I/O devices")
        slots = .allocate(capacity: max(entries.count, 1))
        deviceCount = entries.count
        for (slot, entry) in entries.enumerated() {
            (slots + slot).initialize(to: .passRetained(Slot(device: entry.device, base: entry.base)))
            for offset in 0..<Int(entry.size) { slotOfPort[Int(entry.base) + offset] = UInt8(slot + 1) }
        }
        self.unhandled = unhandled
    }

    deinit {
        for slot in 0..<deviceCount { slots[slot].release() }
        slots.deallocate()
    }

    @inline(__always)
    public func read(port: UInt16, size: Int) -> UInt32 {
        let slot = Int(slotOfPort[Int(port)])
        guard slot != 0 else {
            unhandled.note(.portRead, address: UInt64(port))
            return size >= 4 ? .max : (1 << (size * 8)) - 1
        }
        return slots[slot - 1]._withUnsafeGuaranteedRef { $0.device.read(offset: port &- $0.base, size: size) }
    }

    @inline(__always)
    public func write(port: UInt16, size: Int, value: UInt32) {
        let slot = Int(slotOfPort[Int(port)])
        guard slot != 0 else {
            unhandled.note(.portWrite, address: UInt64(port))
            return
        }
        slots[slot - 1]._withUnsafeGuaranteedRef { $0.device.write(offset: port &- $0.base, size: size, value: value) }
    }
}

extension PortIOBus {
    private final class Slot {
        let device: any PortIODevice
        let base: UInt16

        init(device: any PortIODevice, base: UInt16) {
            self.device = device
            self.base = base
        }
    }

    /// Collects registrations, rejecting overlaps, then freezes them into a bus.
    public struct Builder {
        private var ranges = DeviceRanges<UInt16, any PortIODevice>()
        private let unhandled: UnhandledAccessLog

        public init(unhandled: UnhandledAccessLog) { self.unhandled = unhandled }

        public mutating func register(_ device: any PortIODevice, base: UInt16, count: UInt16) {
            ranges.claim(base: base, size: count, for: device)
        }

        public func build() -> PortIOBus { PortIOBus(ranges: ranges, unhandled: unhandled) }
    }
}
