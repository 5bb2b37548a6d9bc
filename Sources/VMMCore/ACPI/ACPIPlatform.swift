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

    /// A PCI Express host bridge, segment 0, described by the MCFG table and `\_SB.PCI0`.
    public struct PCIHostBridge: Sendable, Equatable {
        /// Base of the ECAM window (below 4 GiB); it covers `busNumbers`.
        public var configurationWindowAddress: UInt64
        /// The buses behind the bridge, which the ECAM window covers (1 MiB per bus).
        public var busNumbers: ClosedRange<UInt8>
        /// The window memory BARs are placed in, below 4 GiB.
        public var memoryWindow: Range<UInt64>
        /// Bus 0 slots that hold devices with an interrupt pin: only these get `_PRT`
        /// entries. Every entry costs a guest on a software-emulated host (PVM) time while
        /// its ACPI interpreter loads the DSDT, and slots stay fixed for a VM's life.
        public var interruptSlots: Range<Int>

        public init(
            configurationWindowAddress: UInt64, busNumbers: ClosedRange<UInt8>, memoryWindow: Range<UInt64>,
            interruptSlots: Range<Int>
        ) {
            precondition(configurationWindowAddress % (1 << 20) == 0, "ECAM windows are 1 MiB aligned")
            precondition(
                configurationWindowAddress + UInt64(busNumbers.count) << 20 <= 1 << 32 && memoryWindow.upperBound <= 1 << 32,
                "the PCI windows must lie below 4 GiB")
            self.configurationWindowAddress = configurationWindowAddress
            self.busNumbers = busNumbers
            self.memoryWindow = memoryWindow
            self.interruptSlots = interruptSlots.clamped(to: 0..<32)
        }

        /// Bytes of ECAM space the buses take.
        public var configurationWindowSize: UInt64 { UInt64(busNumbers.count) << 20 }
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
    /// GPE0 block: status (2 bytes) then enable (2 bytes); 0 for none.
    public var gpe0Port: UInt16 = 0
    /// Guest-physical address of the 16-byte VM generation ID, if the machine has one:
    /// adds `\_SB.VGEN` (VMGENID) and a GPE0 bit 0 handler that notifies it.
    public var generationIDAddress: UInt64?
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
    /// The PCI host bridge, if the machine has one: adds an MCFG table and DSDT devices.
    public var pciHostBridge: PCIHostBridge?

    /// A platform with `cpuCount` vCPUs and the default legacy PC devices.
    public init(cpuCount: Int) {
        self.cpuCount = cpuCount
    }
}
