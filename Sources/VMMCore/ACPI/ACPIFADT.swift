/// The Fixed ACPI Description Table ("FACP"), revision 6.3, 276 bytes.
///
/// It describes PC fixed hardware (PM1a event/control, PM timer, reset register)
/// rather than a hardware-reduced platform, so the power button is a fixed feature
/// signalled through PM1 status and the SCI.
enum ACPIFADT {
    static let size = 276
    static let signature = "FACP"

    private enum Flag {
        static let wbinvd: UInt32 = 1 << 0
        static let processorC1: UInt32 = 1 << 2
        /// Set means "no fixed-feature button"; PWR_BUTTON (bit 4) stays clear.
        static let noSleepButton: UInt32 = 1 << 5
        static let timerValueExtended: UInt32 = 1 << 8
        static let resetRegisterSupported: UInt32 = 1 << 10
    }

    private enum BootArchitecture {
        /// Bit 1 ("8042") is left clear: its only use here is the reset port, which the
        /// guest reaches through RESET_REG, and a clear bit spares Linux probing a
        /// keyboard controller. Set it once the i8042 emulates a real keyboard.
        static let vgaNotPresent: UInt16 = 1 << 2
    }

    static func encode(platform: ACPIPlatform, facsAddress: UInt32, dsdtAddress: UInt32) -> [UInt8] {
        let pm1Event = ACPIGenericAddress.io(port: platform.pm1aEventPort, bytes: 4, accessBytes: 2)
        let pm1Control = ACPIGenericAddress.io(port: platform.pm1aControlPort, bytes: 2, accessBytes: 2)
        let pmTimer = ACPIGenericAddress.io(port: platform.pmTimerPort, bytes: 4, accessBytes: 4)
        let reset = ACPIGenericAddress.io(port: platform.resetPort, bytes: 1, accessBytes: 1)
        let gpe0 = platform.gpe0Port == 0
            ? ACPIGenericAddress.unused : ACPIGenericAddress.io(port: platform.gpe0Port, bytes: 4, accessBytes: 1)

        var body = ACPIByteBuffer()
        body.append(facsAddress)
        body.append(dsdtAddress)
        body.append(UInt8(0))  // reserved
        body.append(UInt8(0))  // preferred PM profile: unspecified
        body.append(UInt16(platform.sciInterrupt))
        // SMI_CMD 0 tells the OS that the machine is always in ACPI mode, so
        // ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ and PSTATE_CNT are 0 too.
        body.append(UInt32(0))
        body.appendZeros(4)
        body.append(UInt32(pm1Event.port))
        body.append(UInt32(0))  // PM1b event
        body.append(UInt32(pm1Control.port))
        body.append(UInt32(0))  // PM1b control
        body.append(UInt32(0))  // PM2 control
        body.append(UInt32(pmTimer.port))
        body.append(UInt32(platform.gpe0Port))
        body.append(UInt32(0))  // GPE1
        body.append(UInt8(4))  // PM1_EVT_LEN
        body.append(UInt8(2))  // PM1_CNT_LEN
        body.append(UInt8(0))  // PM2_CNT_LEN
        body.append(UInt8(4))  // PM_TMR_LEN
        body.append(UInt8(platform.gpe0Port == 0 ? 0 : 4))  // GPE0_BLK_LEN
        body.appendZeros(3)  // GPE1 length, GPE1 base, CST_CNT
        // C2 and C3 latencies above 100 and 1000 µs say those states are unsupported.
        body.append(UInt16(101))
        body.append(UInt16(1001))
        body.appendZeros(2 + 2 + 1 + 1)  // flush size/stride, duty offset/width
        body.appendZeros(3)  // RTC day/month alarm, century
        body.append(BootArchitecture.vgaNotPresent)
        body.append(UInt8(0))  // reserved
        body.append(
            Flag.wbinvd | Flag.processorC1 | Flag.noSleepButton | Flag.timerValueExtended
                | Flag.resetRegisterSupported)
        reset.encode(into: &body)
        body.append(platform.resetValue)
        body.append(UInt16(0))  // ARM boot architecture
        body.append(UInt8(3))  // minor version: ACPI 6.3
        // The 64-bit addresses repeat the 32-bit ones: ACPICA warns only when they differ.
        body.append(UInt64(facsAddress))
        body.append(UInt64(dsdtAddress))
        pm1Event.encode(into: &body)
        ACPIGenericAddress.unused.encode(into: &body)  // PM1b event
        pm1Control.encode(into: &body)
        ACPIGenericAddress.unused.encode(into: &body)  // PM1b control
        ACPIGenericAddress.unused.encode(into: &body)  // PM2 control
        pmTimer.encode(into: &body)
        gpe0.encode(into: &body)
        ACPIGenericAddress.unused.encode(into: &body)  // GPE1
        ACPIGenericAddress.unused.encode(into: &body)  // sleep control (hardware-reduced only)
        ACPIGenericAddress.unused.encode(into: &body)  // sleep status (hardware-reduced only)
        body.append(UInt64(0))  // hypervisor vendor identity

        let table = ACPITableHeader.table(signature: signature, revision: 6, body: body.bytes)
        assert(table.count == size)
        return table
    }
}
