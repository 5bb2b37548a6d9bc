/// The virtual x86 hardware that the ACPI tables describe.
///
/// The defaults match the legacy PC layout the VMM emulates; only `cpuCount` has no
/// sensible default.
public struct ACPIPlatform: Sendable, Equatable {
    /// A 16550-compatible UART on the ISA bus, described as a PNP0501 device.
    public struct SerialPort: Sendable, Equatable {
        /// Base of the eight I/O ports the UART decodes.
        public var port: UInt16
        /// ISA IRQ (0...15), edge-triggered and active-high.
        public var irq: UInt8

        /// A UART decoding `port...port+7` and raising ISA `irq`.
        public init(port: UInt16, irq: UInt8) {
            self.port = port
            self.irq = irq
        }
    }

    /// Number of vCPUs, 1...1024; their APIC ids are `0..<cpuCount`.
    public var cpuCount: Int
    /// Base of the IOAPIC's MMIO window; it serves GSIs from 0.
    public var ioapicAddress: UInt32 = 0xfec0_0000
    /// 0 because KVM's in-kernel IOAPIC resets its ID register to 0, as QEMU's tables
    /// also say: Linux then keeps the id it reads back instead of renumbering the IOAPIC.
    /// On x86-64 Linux only needs IOAPIC ids to be unique among IOAPICs, so sharing a
    /// number with a local APIC is fine.
    public var ioapicID: UInt8 = 0
    /// Base of every vCPU's local APIC MMIO window.
    public var lapicAddress: UInt32 = 0xfee0_0000
    /// ISA IRQ of the SCI, wired level-triggered and active-high.
    public var sciInterrupt: UInt8 = 9
    /// PM1a event block: status (2 bytes) then enable (2 bytes).
    public var pm1aEventPort: UInt16 = 0x600
    /// PM1a control block (2 bytes).
    public var pm1aControlPort: UInt16 = 0x604
    /// 32-bit ACPI PM timer (3.579545 MHz).
    public var pmTimerPort: UInt16 = 0x608
    /// Port that resets the machine when `resetValue` is written to it.
    public var resetPort: UInt16 = 0x64
    /// 0xFE on port 0x64 is the i8042 "pulse reset line" command.
    public var resetValue: UInt8 = 0xfe
    /// SLP_TYP the guest writes, together with SLP_EN, to PM1a control to power off.
    public var s5SleepType: UInt8 = 5
    /// At most nine; they become `\_SB.COM1`... in the DSDT.
    public var serialPorts: [SerialPort] = [SerialPort(port: 0x3f8, irq: 4)]

    /// A platform with `cpuCount` vCPUs and the default legacy PC devices.
    public init(cpuCount: Int) {
        self.cpuCount = cpuCount
    }
}
