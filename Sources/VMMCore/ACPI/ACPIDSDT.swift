/// The Differentiated System Description Table: the AML namespace.
///
/// It holds only what Linux cannot learn elsewhere: the S5 sleep type for power-off, the
/// serial ports and the PCI host bridge (`ACPIDSDT+PCI.swift`). CPUs need no Processor or ACPI0007 objects because Linux
/// enumerates them from the MADT; those objects only matter for C/P-states and CPU
/// hotplug, which this platform does not offer.
enum ACPIDSDT {
    static let signature = "DSDT"
    /// Revision 2 makes AML integers 64-bit.
    private static let revision: UInt8 = 2

    static func encode(platform: ACPIPlatform) -> [UInt8] {
        precondition(platform.serialPorts.count <= 9, "serial devices are named COM1...COM9")
        let s5 = UInt64(platform.s5SleepType)
        // SLP_TYPa, SLP_TYPb and two reserved elements.
        let sleepState5 = ACPIAML.name(
            "_S5", ACPIAML.package([ACPIAML.integer(s5), ACPIAML.integer(s5), ACPIAML.integer(0), ACPIAML.integer(0)]))
        let serialDevices = platform.serialPorts.enumerated().map { index, serial in
            ACPIAML.device("COM\(index + 1)", [
                ACPIAML.name("_HID", ACPIAML.eisaID("PNP0501")),
                ACPIAML.name("_UID", ACPIAML.integer(UInt64(index + 1))),
                ACPIAML.name("_CRS", ACPIResourceTemplate.buffer([
                    ACPIResourceTemplate.io(port: serial.port, length: 8),
                    ACPIResourceTemplate.irqNoFlags(serial.irq),
                ])),
            ])
        }
        let pciDevices = platform.pciHostBridge.map(pciHostBridgeDevices) ?? []
        let generationID = platform.generationIDAddress.map(generationIDDevice)
        var aml = sleepState5 + ACPIAML.scope("\\_SB", serialDevices + pciDevices + (generationID.map { [$0] } ?? []))
        if generationID != nil {
            // GPE0 bit 0 tells the guest the generation ID changed (a restored clone).
            aml += ACPIAML.scope("\\_GPE", [ACPIAML.method("_E00", [ACPIAML.notify("\\_SB.VGEN", 0x80)])])
        }
        return ACPITableHeader.table(signature: signature, revision: revision, body: aml)
    }

    /// Microsoft's VM Generation ID device: `ADDR` is the GUID's address (low and high
    /// dwords). Linux matches the _HID VMGENCTR, Windows the _CID.
    private static func generationIDDevice(address: UInt64) -> [UInt8] {
        ACPIAML.device("VGEN", [
            ACPIAML.name("_HID", ACPIAML.string("VMGENCTR")),
            ACPIAML.name("_CID", ACPIAML.string("VM_Gen_Counter")),
            ACPIAML.name("_DDN", ACPIAML.string("VM_Gen_Counter")),
            ACPIAML.name("ADDR", ACPIAML.package([
                ACPIAML.integer(address & 0xffff_ffff), ACPIAML.integer(address >> 32),
            ])),
        ])
    }
}
