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

    public func read(address: UInt64, size: Int) -> UInt64 {
        guard let range = range(for: address) else {
            unhandled.note(.mmioRead, address: address)
            return size >= 8 ? .max : (1 << UInt64(size * 8)) - 1
        }
        return range.device.read(offset: address - range.base, size: size)
    }

    public func write(address: UInt64, size: Int, value: UInt64) {
        guard let range = range(for: address) else {
            unhandled.note(.mmioWrite, address: address)
            return
        }
        range.device.write(offset: address - range.base, size: size, value: value)
    }

    @inline(__always)
    private func range(for address: UInt64) -> Range? {
        for range in ranges where address >= range.base && address - range.base < range.size {
            return range
        }
        return nil
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
