/// Routes MMIO exits to the device registered for the guest-physical address.
///
/// Addresses nobody claims read as all-ones and ignore writes.
public final class MMIOBus: Sendable {
    private let ranges: [DeviceRanges<UInt64, any MMIODevice>.Entry]
    private let unhandled: UnhandledAccessLog

    init(ranges: DeviceRanges<UInt64, any MMIODevice>, unhandled: UnhandledAccessLog) {
        self.ranges = ranges.entries
        self.unhandled = unhandled
    }

    // As in PortIOBus, devices are called in place to spare a retain and release per exit.
    public func read(address: UInt64, size: Int) -> UInt64 {
        for index in ranges.indices where address &- ranges[index].base < ranges[index].size {
            return ranges[index].device.read(offset: address &- ranges[index].base, size: size)
        }
        unhandled.note(.mmioRead, address: address)
        return size >= 8 ? .max : (1 << UInt64(size * 8)) - 1
    }

    public func write(address: UInt64, size: Int, value: UInt64) {
        for index in ranges.indices where address &- ranges[index].base < ranges[index].size {
            ranges[index].device.write(offset: address &- ranges[index].base, size: size, value: value)
            return
        }
        unhandled.note(.mmioWrite, address: address)
    }
}

extension MMIOBus {
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
