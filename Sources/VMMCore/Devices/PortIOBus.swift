/// Routes port I/O exits to the device registered for the port.
///
/// Built once before the vCPUs start and read-only afterwards, so lookups take no lock.
/// Ports nobody claims read as all-ones and ignore writes, as on a real ISA bus.
public final class PortIOBus: Sendable {
    struct Range: Sendable {
        let base: UInt16
        let count: UInt16
        let device: any PortIODevice
    }

    private let ranges: [Range]
    private let unhandled: UnhandledAccessLog

    init(ranges: [Range], unhandled: UnhandledAccessLog) {
        self.ranges = ranges
        self.unhandled = unhandled
    }

    // The loops call the device in place: returning the matching range would copy the
    // existential and cost a retain and release on every exit.
    public func read(port: UInt16, size: Int) -> UInt32 {
        for index in ranges.indices where port &- ranges[index].base < ranges[index].count {
            return ranges[index].device.read(offset: port &- ranges[index].base, size: size)
        }
        unhandled.note(.portRead, address: UInt64(port))
        return size >= 4 ? .max : (1 << (size * 8)) - 1
    }

    public func write(port: UInt16, size: Int, value: UInt32) {
        for index in ranges.indices where port &- ranges[index].base < ranges[index].count {
            ranges[index].device.write(offset: port &- ranges[index].base, size: size, value: value)
            return
        }
        unhandled.note(.portWrite, address: UInt64(port))
    }
}

extension PortIOBus {
    /// Collects registrations, rejecting overlaps, then freezes them into a bus.
    public struct Builder {
        private var ranges: [Range] = []
        private let unhandled: UnhandledAccessLog

        public init(unhandled: UnhandledAccessLog) { self.unhandled = unhandled }

        public mutating func register(_ device: any PortIODevice, base: UInt16, count: UInt16) {
            precondition(count > 0 && Int(base) + Int(count) <= 0x1_0000, "port range out of bounds")
            precondition(
                !ranges.contains { Int(base) < Int($0.base) + Int($0.count) && Int($0.base) < Int(base) + Int(count) },
                "port range 0x\(String(base, radix: 16)) overlaps another device")
            ranges.append(Range(base: base, count: count, device: device))
        }

        public func build() -> PortIOBus { PortIOBus(ranges: ranges, unhandled: unhandled) }
    }
}
