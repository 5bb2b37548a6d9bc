/// Routes port I/O exits to the device registered for the port.
///
/// Built once before the vCPUs start and read-only afterwards, so lookups take no lock.
/// Ports nobody claims read as all-ones and ignore writes, as on a real ISA bus.
public final class PortIOBus: Sendable {
    private let ranges: [DeviceRanges<UInt16, any PortIODevice>.Entry]
    private let unhandled: UnhandledAccessLog

    init(ranges: DeviceRanges<UInt16, any PortIODevice>, unhandled: UnhandledAccessLog) {
        self.ranges = ranges.entries
        self.unhandled = unhandled
    }

    // The loops call the device in place: returning the matching range would copy the
    // existential and cost a retain and release on every exit.
    public func read(port: UInt16, size: Int) -> UInt32 {
        for index in ranges.indices where port &- ranges[index].base < ranges[index].size {
            return ranges[index].device.read(offset: port &- ranges[index].base, size: size)
        }
        unhandled.note(.portRead, address: UInt64(port))
        return size >= 4 ? .max : (1 << (size * 8)) - 1
    }

    public func write(port: UInt16, size: Int, value: UInt32) {
        for index in ranges.indices where port &- ranges[index].base < ranges[index].size {
            ranges[index].device.write(offset: port &- ranges[index].base, size: size, value: value)
            return
        }
        unhandled.note(.portWrite, address: UInt64(port))
    }
}

extension PortIOBus {
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
