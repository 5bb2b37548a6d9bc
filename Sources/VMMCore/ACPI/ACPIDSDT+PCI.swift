extension ACPIDSDT {
    /// `\_SB.PCI0`, the PCI Express host bridge, and `\_SB.MRES`, the motherboard
    /// resources device that reserves the ECAM window: Linux uses an MCFG region only if
    /// the firmware reserved it (here also in the e820 map).
    static func pciHostBridgeDevices(_ bridge: ACPIPlatform.PCIHostBridge) -> [[UInt8]] {
        let buses = UInt16(bridge.busNumbers.lowerBound)...UInt16(bridge.busNumbers.upperBound)
        let resources = ACPIResourceTemplate.buffer([
            ACPIResourceTemplate.wordBusNumber(buses),
            ACPIResourceTemplate.io(port: PCIConfigurationPorts.port, length: UInt8(PCIConfigurationPorts.portCount)),
            ACPIResourceTemplate.wordIO(0x0000...(PCIConfigurationPorts.port - 1)),
            ACPIResourceTemplate.wordIO(0x0d00...0xffff),
            ACPIResourceTemplate.dwordMemory(bridge.memoryWindow),
        ])
        let hostBridge = ACPIAML.device("PCI0", [
            ACPIAML.name("_HID", ACPIAML.eisaID("PNP0A08")),
            ACPIAML.name("_CID", ACPIAML.eisaID("PNP0A03")),
            ACPIAML.name("_SEG", ACPIAML.integer(0)),
            ACPIAML.name("_BBN", ACPIAML.integer(UInt64(bridge.busNumbers.lowerBound))),
            ACPIAML.name("_UID", ACPIAML.integer(0)),
            ACPIAML.name("_CRS", resources),
            ACPIAML.name("_PRT", interruptRoutingTable(slots: bridge.interruptSlots)),
        ])
        let motherboardResources = ACPIAML.device("MRES", [
            ACPIAML.name("_HID", ACPIAML.eisaID("PNP0C02")),
            ACPIAML.name("_CRS", ACPIResourceTemplate.buffer([
                ACPIResourceTemplate.memory32Fixed(
                    base: UInt32(bridge.configurationWindowAddress), size: UInt32(bridge.configurationWindowSize)),
            ])),
        ])
        return [hostBridge, motherboardResources]
    }

    /// `_PRT`: INTA#–INTD# of each of `slots` on bus 0 to the global GSIs `PCIBus` wires
    /// them to (source 0 means a GSI, which Linux programs level-triggered, active-low).
    private static func interruptRoutingTable(slots: Range<Int>) -> [UInt8] {
        let entries = slots.flatMap { slot in
            (0..<4).map { pin in
                ACPIAML.package([
                    ACPIAML.integer(UInt64(slot) << 16 | 0xffff),  // any function of the slot
                    ACPIAML.integer(UInt64(pin)),
                    ACPIAML.integer(0),
                    ACPIAML.integer(UInt64(PCIBus.interruptGSI(slot: slot, pin: pin + 1))),
                ])
            }
        }
        return ACPIAML.package(entries)
    }
}
