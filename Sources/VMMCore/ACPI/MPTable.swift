/// The Intel MultiProcessor Specification 1.4 tables: a floating pointer ("_MP_") and the
/// configuration table ("PCMP") it points to, describing the vCPUs, the IOAPIC and the ISA
/// interrupts the way the MADT does.
///
/// Linux looks for the floating pointer before it reads ACPI (`find_smp_config`) and,
/// without one, scans all of 0xF0000–0xFFFFF in 16-byte steps, mapping and unmapping the
/// rest of the area at every step. On a host that emulates guest kernel code (PVM) that
/// scan cost seconds of boot; with the pointer at the start of the F segment it stops at
/// once. With ACPI, Linux then takes the MADT and only reserves these bytes; with
/// `acpi=off` it reads the vCPUs and ISA interrupts from here (QEMU and Firecracker also
/// write these tables). PCI interrupts are not described: they are ACPI's (`_PRT`) or MSI-X.
public enum MPTable {
    /// Where vmm places the tables: the start of the BIOS F segment, after the ACPI tables.
    public static let defaultAddress: UInt64 = 0xF_0000
    /// Processor entries hold 8-bit APIC ids and 0xFF is broadcast.
    static let maximumCPUCount = 254
    static let floatingPointerSize = 16
    static let headerSize = 44

    private enum EntryType {
        static let processor: UInt8 = 0
        static let bus: UInt8 = 1
        static let ioAPIC: UInt8 = 2
        static let ioInterrupt: UInt8 = 3
        static let localInterrupt: UInt8 = 4
    }

    private enum InterruptType {
        static let vectored: UInt8 = 0
        static let nmi: UInt8 = 1
        static let extINT: UInt8 = 3
    }

    private static let isaBusID: UInt8 = 0
    private static let allLocalAPICs: UInt8 = 0xff

    /// The floating pointer followed by the configuration table, for `address` (16-byte
    /// aligned, below 4 GiB). `platform` supplies the vCPU count (at most 254 are listed),
    /// the LAPIC and IOAPIC addresses and the IOAPIC id.
    public static func encode(_ platform: ACPIPlatform, at address: UInt64) -> [UInt8] {
        precondition(address % 16 == 0 && address + 0x1_0000 <= 1 << 32, "the MP tables must be 16-byte aligned below 4 GiB")
        var table = ACPIByteBuffer()
        table.append(ascii: "PCMP", width: 4)
        table.append(UInt16(0))  // base table length, set below
        table.append(UInt8(4))  // specification revision 1.4
        table.append(UInt8(0))  // checksum, set below
        table.append(ascii: "VMMSWF", width: 8)
        table.append(ascii: "VMMSWIFT", width: 12)
        table.append(UInt32(0))  // OEM table pointer
        table.append(UInt16(0))  // OEM table size
        table.append(UInt16(0))  // entry count, set below
        table.append(platform.lapicAddress)
        table.append(UInt16(0))  // extended table length
        table.append(UInt8(0))  // extended table checksum
        table.append(UInt8(0))  // reserved
        var entries: UInt16 = 0

        for apicID in 0..<min(platform.cpuCount, maximumCPUCount) {
            table.append(EntryType.processor)
            table.append(UInt8(apicID))
            table.append(UInt8(0x14))  // local APIC version, as KVM's LAPIC reports
            table.append(UInt8(apicID == 0 ? 0b11 : 0b01))  // enabled; bit 1: the bootstrap processor
            table.append(UInt32(0x600))  // CPU signature: family 6 (informational)
            table.append(UInt32(0x201))  // feature flags: FPU, APIC
            table.appendZeros(8)
            entries += 1
        }
        table.append(EntryType.bus)
        table.append(isaBusID)
        table.append(ascii: "ISA   ", width: 6)
        entries += 1
        table.append(EntryType.ioAPIC)
        table.append(platform.ioapicID)
        table.append(UInt8(0x11))  // IOAPIC version, as KVM's IOAPIC reports
        table.append(UInt8(1))  // enabled
        table.append(platform.ioapicAddress)
        entries += 1

        // The 8259 pair on pin 0, the PIT (ISA IRQ 0) on pin 2, the other ISA IRQs on their
        // own pins (IRQ 2 is the cascade): the wiring `PlatformDevices` installs.
        func ioInterrupt(_ type: UInt8, irq: UInt8, pin: UInt8) {
            table.append(EntryType.ioInterrupt)
            table.append(type)
            table.append(UInt16(0))  // polarity and trigger conform to the bus (ISA: high, edge)
            table.append(isaBusID)
            table.append(irq)
            table.append(platform.ioapicID)
            table.append(pin)
            entries += 1
        }
        ioInterrupt(InterruptType.extINT, irq: 0, pin: 0)
        ioInterrupt(InterruptType.vectored, irq: 0, pin: 2)
        for irq in UInt8(1)...15 where irq != 2 {
            ioInterrupt(InterruptType.vectored, irq: irq, pin: irq)
        }
        func localInterrupt(_ type: UInt8, lint: UInt8) {
            table.append(EntryType.localInterrupt)
            table.append(type)
            table.append(UInt16(0))
            table.append(isaBusID)
            table.append(UInt8(0))
            table.append(allLocalAPICs)
            table.append(lint)
            entries += 1
        }
        localInterrupt(InterruptType.extINT, lint: 0)
        localInterrupt(InterruptType.nmi, lint: 1)

        table.set(UInt16(table.bytes.count), at: 4)
        table.set(entries, at: 34)
        table.setChecksum(at: 7, covering: 0..<table.bytes.count)

        var pointer = ACPIByteBuffer()
        pointer.append(ascii: "_MP_", width: 4)
        pointer.append(UInt32(address) + UInt32(floatingPointerSize))  // the table follows
        pointer.append(UInt8(1))  // length in 16-byte units
        pointer.append(UInt8(4))  // specification revision 1.4
        pointer.append(UInt8(0))  // checksum, set below
        pointer.append(UInt8(0))  // feature byte 1: 0 = a configuration table is present
        pointer.append(UInt8(0))  // feature byte 2: virtual wire mode, no IMCR
        pointer.appendZeros(3)
        pointer.setChecksum(at: 10, covering: 0..<floatingPointerSize)
        return pointer.bytes + table.bytes
    }
}
