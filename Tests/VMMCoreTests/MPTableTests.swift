import Testing
@testable import VMMCore

struct MPTableTests {
    static func bytes(cpus: Int) -> [UInt8] {
        MPTable.encode(PlatformDevices.acpiPlatform(cpuCount: cpus, pciDeviceCount: 3), at: GuestMemoryMap.mpTableAddress)
    }

    static func u16(_ b: [UInt8], _ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
    static func u32(_ b: [UInt8], _ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[o + $1]) << (8 * $1) } }

    /// What Linux's `smp_scan_config` accepts: "_MP_", length 1, revision 1 or 4, sum 0.
    @Test func floatingPointerIsWhatLinuxLooksFor() {
        let b = Self.bytes(cpus: 2)
        #expect(Array(b[0..<4]) == Array("_MP_".utf8))
        #expect(b[8] == 1 && b[9] == 4)
        #expect(b[0..<16].reduce(0, &+) == 0)
        #expect(b[11] == 0, "a configuration table follows, not a default configuration")
        #expect(Self.u32(b, 4) == UInt32(GuestMemoryMap.mpTableAddress) + 16)
    }

    @Test(arguments: [1, 4, 300])
    func configurationTableIsConsistent(cpus: Int) {
        let b = Self.bytes(cpus: cpus)
        let table = Array(b[16...])
        #expect(Array(table[0..<4]) == Array("PCMP".utf8))
        let length = Self.u16(table, 4)
        #expect(length == table.count)
        #expect(table.reduce(0, &+) == 0)
        #expect(Self.u32(table, 36) == UInt32(GuestMemoryMap.lapicAddress))
        // Walk the entries: processors (20 bytes) first, then 8-byte entries.
        var offset = MPTable.headerSize, processors = 0, ioInterrupts = 0, count = 0
        var bsp = 0
        while offset < length {
            let type = table[offset]
            if type == 0 {
                #expect(Int(table[offset + 1]) == processors, "APIC ids in order")
                if table[offset + 3] & 2 != 0 { bsp += 1 }
                processors += 1
                offset += 20
            } else {
                if type == 2 { #expect(Self.u32(table, offset + 4) == UInt32(GuestMemoryMap.ioapicAddress)) }
                if type == 3 { ioInterrupts += 1 }
                offset += 8
            }
            count += 1
        }
        #expect(offset == length)
        #expect(count == Self.u16(table, 34))
        #expect(processors == min(cpus, 254))
        #expect(bsp == 1)
        #expect(ioInterrupts == 16, "ExtINT, IRQ0 on pin 2 and ISA IRQs 1, 3...15")
    }

    /// The tables sit between the ACPI tables (which they must not overlap, even for the
    /// most vCPUs) and the VM generation ID.
    @Test func fitsBetweenTheACPITablesAndTheGenerationID() {
        let acpi = ACPITables.build(
            PlatformDevices.acpiPlatform(cpuCount: ACPITables.maximumCPUCount, pciDeviceCount: 3), at: GuestMemoryMap.acpiTablesStart)
        #expect(GuestMemoryMap.acpiTablesStart + UInt64(acpi.bytes.count) <= GuestMemoryMap.mpTableAddress)
        let mp = Self.bytes(cpus: ACPITables.maximumCPUCount)
        #expect(GuestMemoryMap.mpTableAddress + UInt64(mp.count) <= GuestMemoryMap.generationIDAddress)
    }
}
