/// Where things live in the guest-physical address space of an x86 machine.
public enum GuestMemoryMap {
    /// RAM below this address is what the guest sees under 4 GiB; above it up to 4 GiB is
    /// the 32-bit MMIO hole (PCI BARs, IOAPIC, LAPIC), and RAM continues at 4 GiB.
    public static let mmioHoleStart: UInt64 = 0xC000_0000
    public static let highMemoryStart: UInt64 = 1 << 32
    /// End of conventional memory; the BIOS area above it is reserved.
    public static let lowMemoryEnd: UInt64 = 0x9_FC00
    /// ACPI tables live in the BIOS area, where Multiboot guests scan for the RSDP.
    public static let acpiTablesStart: UInt64 = 0xE_0000
    /// The MP floating pointer and configuration table (`MPTable`), after the ACPI tables.
    public static let mpTableAddress: UInt64 = MPTable.defaultAddress
    public static let biosAreaEnd: UInt64 = 0x10_0000
    /// The 16-byte VM generation ID (ACPI VMGENID), in the reserved BIOS area's last page.
    public static let generationIDAddress: UInt64 = 0xF_F000
    /// PCI memory BARs are placed in [start, end): the host bridge's 32-bit window.
    public static let pciMemoryWindowStart: UInt64 = 0xC000_0000
    public static let pciMemoryWindowEnd: UInt64 = 0xE000_0000
    /// The PCI Express configuration window (ECAM) for bus 0, reserved in the e820 map.
    public static let pciConfigurationWindowStart: UInt64 = 0xE000_0000
    public static let pciConfigurationWindowSize: UInt64 = 1 << 20
    public static let ioapicAddress: UInt64 = 0xFEC0_0000
    public static let lapicAddress: UInt64 = 0xFEE0_0000
    /// Three pages below the IOAPIC for VT-x's real-mode TSS, and one for its identity map.
    public static let tssAddress: UInt64 = 0xFFFB_D000
    public static let identityMapAddress: UInt64 = 0xFFFB_C000
    public static let minimumSize: UInt64 = 2 << 20

    /// The RAM regions for a guest of `size` bytes.
    public static func ramRegions(size: UInt64) -> [GuestMemory.Region] {
        let low = min(size, mmioHoleStart)
        var regions = [GuestMemory.Region(guestAddress: 0, size: low, offset: 0)]
        if size > low {
            regions.append(.init(guestAddress: highMemoryStart, size: size - low, offset: low))
        }
        return regions
    }

    /// The memory map the firmware interfaces (e820, Multiboot, PVH) describe, in address
    /// order. The ECAM window is reserved because Linux only uses an MCFG region that the
    /// firmware reserved.
    public static func e820(size: UInt64) -> [E820Entry] {
        var entries = [
            E820Entry(address: 0, size: lowMemoryEnd, type: .ram),
            E820Entry(address: lowMemoryEnd, size: biosAreaEnd - lowMemoryEnd, type: .reserved),
            E820Entry(address: pciConfigurationWindowStart, size: pciConfigurationWindowSize, type: .reserved),
        ]
        for region in ramRegions(size: size) {
            let start = max(region.guestAddress, biosAreaEnd)
            if region.end > start { entries.append(.init(address: start, size: region.end - start, type: .ram)) }
        }
        return entries.sorted { $0.address < $1.address }
    }
}

/// One entry of an x86 physical memory map.
public struct E820Entry: Equatable, Sendable {
    public enum Kind: UInt32, Sendable {
        case ram = 1
        case reserved = 2
        case acpiReclaimable = 3
    }

    public let address: UInt64
    public let size: UInt64
    public let type: Kind
}
