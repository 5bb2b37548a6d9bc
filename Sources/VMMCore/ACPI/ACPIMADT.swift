/// The Multiple APIC Description Table ("APIC"): how Linux enumerates the vCPUs and
/// finds the IOAPIC.
enum ACPIMADT {
    static let signature = "APIC"

    /// xAPIC ids are 8 bits and 0xFF means broadcast, so higher ids need x2APIC entries.
    static let firstX2APICID = 255

    private enum EntryType {
        static let localAPIC: UInt8 = 0
        static let ioAPIC: UInt8 = 1
        static let interruptSourceOverride: UInt8 = 2
        static let localAPICNMI: UInt8 = 4
        static let localX2APIC: UInt8 = 9
        static let localX2APICNMI: UInt8 = 10
    }

    private static let pcatCompatible: UInt32 = 1 << 0
    private static let processorEnabled: UInt32 = 1 << 0
    /// MPS INTI flags: active-high polarity (bits 0–1 = 01), level trigger (bits 2–3 = 11).
    private static let activeHighLevel: UInt16 = 0x000d
    private static let allProcessors: UInt8 = 0xff
    private static let allX2APICProcessors: UInt32 = 0xffff_ffff
    /// LINT1 carries NMI on PC-compatible machines.
    private static let lint1: UInt8 = 1
    /// The PIT drives IRQ0 on IOAPIC pin 2, where the 8259 cascade would otherwise sit.
    private static let timerGSI: UInt32 = 2

    static func encode(platform: ACPIPlatform) -> [UInt8] {
        precondition(platform.sciInterrupt < 16, "the SCI must be an ISA IRQ")
        var body = ACPIByteBuffer()
        body.append(platform.lapicAddress)
        body.append(pcatCompatible)

        // Processor UIDs equal APIC ids; nothing in the DSDT refers to them.
        for apicID in 0..<min(platform.cpuCount, firstX2APICID) {
            body.append(EntryType.localAPIC)
            body.append(UInt8(8))
            body.append(UInt8(apicID))  // ACPI processor UID
            body.append(UInt8(apicID))
            body.append(processorEnabled)
        }
        for apicID in firstX2APICID..<max(platform.cpuCount, firstX2APICID) {
            body.append(EntryType.localX2APIC)
            body.append(UInt8(16))
            body.append(UInt16(0))  // reserved
            body.append(UInt32(apicID))
            body.append(processorEnabled)
            body.append(UInt32(apicID))  // ACPI processor UID
        }

        body.append(EntryType.ioAPIC)
        body.append(UInt8(12))
        body.append(platform.ioapicID)
        body.append(UInt8(0))  // reserved
        body.append(platform.ioapicAddress)
        body.append(UInt32(0))  // GSI base

        appendOverride(into: &body, irq: 0, gsi: timerGSI, flags: 0)
        appendOverride(
            into: &body, irq: platform.sciInterrupt, gsi: UInt32(platform.sciInterrupt),
            flags: activeHighLevel)

        body.append(EntryType.localAPICNMI)
        body.append(UInt8(6))
        body.append(allProcessors)
        body.append(UInt16(0))  // flags: conforming to the bus
        body.append(lint1)
        // The 0xFF UID above cannot name x2APIC processors; they need their own entry.
        if platform.cpuCount > firstX2APICID {
            body.append(EntryType.localX2APICNMI)
            body.append(UInt8(12))
            body.append(UInt16(0))  // flags: conforming to the bus
            body.append(allX2APICProcessors)
            body.append(lint1)
            body.appendZeros(3)
        }

        return ACPITableHeader.table(signature: signature, revision: 5, body: body.bytes)
    }

    private static func appendOverride(
        into body: inout ACPIByteBuffer, irq: UInt8, gsi: UInt32, flags: UInt16
    ) {
        body.append(EntryType.interruptSourceOverride)
        body.append(UInt8(10))
        body.append(UInt8(0))  // bus: ISA
        body.append(irq)
        body.append(gsi)
        body.append(flags)
    }
}
