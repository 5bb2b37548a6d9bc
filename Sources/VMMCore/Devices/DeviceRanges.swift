/// Non-overlapping address ranges, each claimed by one device: the registry behind the
/// port I/O and MMIO buses. Filled before the vCPUs start, read-only afterwards.
struct DeviceRanges<Address: FixedWidthInteger & UnsignedInteger & Sendable, Device: Sendable>: Sendable {
    struct Entry: Sendable {
        let base: Address
        let size: Address
        let device: Device
    }

    private(set) var entries: [Entry] = []

    /// Claims `size` addresses from `base` for `device`; overlaps are programming errors.
    mutating func claim(base: Address, size: Address, for device: Device) {
        precondition(size > 0 && base <= Address.max - (size - 1), "device range out of the address space")
        let last = base + (size - 1)
        precondition(
            !entries.contains { base <= $0.base + ($0.size - 1) && $0.base <= last },
            "device range at 0x\(String(base, radix: 16)) overlaps another device")
        entries.append(Entry(base: base, size: size, device: device))
    }
}
