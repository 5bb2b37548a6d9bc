import KVM

/// The legacy PC devices every machine has, the PCI bus with the devices the builder was
/// given, and the port and MMIO buses that reach them. (Firecracker calls this the device
/// manager.)
public struct PlatformDevices: Sendable {
    public let serial: Serial16550
    public let powerManagement: ACPIPowerManagement
    public let pciBus: PCIBus
    let cmos = CMOSClock()
    let keyboardController: I8042Controller
    let firmwareConfig: FirmwareConfig
    public let interruptRouter: InterruptRouter
    let portBus: PortIOBus
    let mmioBus: MMIOBus

    /// Builds the PCI devices in slot order (1...), places their BARs, then lets each
    /// `PCIBarsAssigned` device finish its setup.
    init(
        vm: KVMVirtualMachine, memory: GuestMemory, interruptRouter: InterruptRouter,
        configuration: MachineConfiguration, pciDevices: [PCIDeviceFactory], exitLatch: MachineExitLatch,
        serialOutput: @escaping @Sendable (UInt8) -> Void, log: Logger
    ) throws(VMMError) {
        try PCIBus.checkCapacity(deviceCount: pciDevices.count)
        var devices: [any PCIDevice] = []
        for (index, factory) in pciDevices.enumerated() {
            let slot = index + 1
            let line = KVMInterruptLine(vm: vm, gsi: PCIBus.interruptGSI(slot: slot), log: log)
            devices.append(try factory(PCIDeviceContext(
                vm: vm, memory: memory, interruptRouter: interruptRouter, slot: slot, interruptLine: line, log: log)))
        }
        pciBus = try PCIBus(devices: devices)
        for case let device as any PCIBarsAssigned in pciBus.devices { try device.barsAssigned(vm: vm) }
        self.interruptRouter = interruptRouter

        let unhandled = UnhandledAccessLog(log: log)
        serial = Serial16550(
            interrupt: KVMInterruptLine(vm: vm, gsi: Serial16550.com1Interrupt, log: log), output: serialOutput)
        powerManagement = ACPIPowerManagement(
            sci: KVMInterruptLine(vm: vm, gsi: ACPIPowerManagement.sciInterrupt, log: log), exitLatch: exitLatch)

        keyboardController = I8042Controller(exitLatch: exitLatch)
        firmwareConfig = FirmwareConfig(ramSize: configuration.memorySize, cpuCount: UInt16(configuration.cpuCount))
        var ports = PortIOBus.Builder(unhandled: unhandled)
        ports.register(serial, base: Serial16550.com1Port, count: 8)
        ports.register(keyboardController, base: I8042Controller.dataPort, count: 5)
        ports.register(cmos, base: CMOSClock.port, count: CMOSClock.portCount)
        ports.register(PostCodeSink(), base: PostCodeSink.port, count: 1)
        ports.register(DebugExit(exitLatch: exitLatch), base: DebugExit.port, count: 4)
        ports.register(firmwareConfig, base: FirmwareConfig.port, count: FirmwareConfig.portCount)
        ports.register(PCIConfigurationPorts(bus: pciBus), base: PCIConfigurationPorts.port, count: PCIConfigurationPorts.portCount)
        ports.register(powerManagement, base: ACPIPowerManagement.port, count: ACPIPowerManagement.portCount)
        portBus = ports.build()
        var mmio = MMIOBus.Builder(unhandled: unhandled)
        mmio.register(
            PCIExpressConfigurationWindow(bus: pciBus), base: GuestMemoryMap.pciConfigurationWindowStart,
            size: GuestMemoryMap.pciConfigurationWindowSize)
        pciBus.registerBARs(on: &mmio)
        mmioBus = mmio.build()
    }

    /// PC interrupt wiring: ISA IRQs 0–15 on the PIC pair and the IOAPIC, except that ISA
    /// IRQ 0 (the PIT) reaches IOAPIC pin 2, as the MADT's override says and QEMU wires it;
    /// GSIs 16–23 (PCI INTx) on the IOAPIC only.
    static let interruptRouting: [KVMInterruptRoute] = {
        var routes: [KVMInterruptRoute] = []
        for gsi in UInt32(0)..<16 where gsi != 2 {
            routes.append(.init(gsi: gsi, chip: gsi < 8 ? .primaryPIC : .secondaryPIC, pin: gsi % 8))
        }
        for gsi in UInt32(0)..<24 where gsi != 2 {
            routes.append(.init(gsi: gsi, chip: .ioapic, pin: gsi == 0 ? 2 : gsi))
        }
        return routes
    }()

    /// What the ACPI tables tell the guest about these devices; the virtio devices sit in
    /// PCI slots 1...`pciDeviceCount`.
    static func acpiPlatform(cpuCount: Int, pciDeviceCount: Int) -> ACPIPlatform {
        var platform = ACPIPlatform(cpuCount: cpuCount)
        platform.ioapicAddress = UInt32(GuestMemoryMap.ioapicAddress)
        platform.lapicAddress = UInt32(GuestMemoryMap.lapicAddress)
        platform.sciInterrupt = UInt8(ACPIPowerManagement.sciInterrupt)
        platform.pm1aEventPort = ACPIPowerManagement.eventBlockPort
        platform.pm1aControlPort = ACPIPowerManagement.controlBlockPort
        platform.pmTimerPort = ACPIPowerManagement.timerPort
        platform.gpe0Port = ACPIPowerManagement.gpe0Port
        platform.generationIDAddress = GuestMemoryMap.generationIDAddress
        platform.resetPort = I8042Controller.commandPort
        platform.resetValue = 0xFE
        platform.s5SleepType = UInt8(ACPIPowerManagement.softOffSleepType)
        platform.serialPorts = [.init(port: Serial16550.com1Port, irq: UInt8(Serial16550.com1Interrupt))]
        platform.pciHostBridge = .init(
            configurationWindowAddress: GuestMemoryMap.pciConfigurationWindowStart, busNumbers: 0...0,
            memoryWindow: PCIBus.memoryWindow, interruptSlots: 1..<1 + pciDeviceCount)
        return platform
    }
}
