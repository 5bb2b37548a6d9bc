/// Routes MMIO exits to the device registered for the guest-physical address.
///
/// Addresses nobody claims read as all-ones and ignore writes.
public final class MMIOBus: Sendable {
    struct Range: Sendable {
        let base: UInt64
        let size: UInt64
        let device: any MMIODevice
    }

    private let ranges: [Range]
    private let unhandled: UnhandledAccessLog

    init(ranges: [Range], unhandled: UnhandledAccessLog) {
        self.ranges = ranges
        self.unhandled = unhandled
    }

    // See PortIOBus: devices are called in place to spare a retain and release per exit.
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
    public struct Builder {
        private var ranges: [Range] = []
        private let unhandled: UnhandledAccessLog

        public init(unhandled: UnhandledAccessLog) { self.unhandled = unhandled }

        public mutating func register(_ device: any MMIODevice, base: UInt64, size: UInt64) {
            precondition(size > 0 && base <= UInt64.max - size, "MMIO range out of bounds")
            precondition(
                !ranges.contains { base < $0.base + $0.size && $0.base < base + size },
                "MMIO range 0x\(String(base, radix: 16)) overlaps another device")
            ranges.append(Range(base: base, size: size, device: device))
        }

        public func build() -> MMIOBus { MMIOBus(ranges: ranges, unhandled: unhandled) }
    }
}
