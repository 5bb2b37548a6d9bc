import Synchronization
import Testing

@testable import VMMCore

/// A function with the BARs it is given that records the BAR accesses reaching it.
final class RecordingPCIDevice: PCIDevice {
    let configuration: PCIConfigurationSpace
    private let accesses = Mutex<[String]>([])

    init(bars: [PCIBar], interruptPin: UInt8 = 1) {
        configuration = PCIConfigurationSpace(
            identity: PCIIdentity(
                vendorID: 0x1af4, deviceID: 0x1041, revisionID: 1, classCode: 0x02_00_00, subsystemVendorID: 0x1af4,
                subsystemID: 1),
            bars: bars, capabilities: [], interruptPin: interruptPin)
    }

    var log: [String] { accesses.withLock { $0 } }

    func readBAR(_ index: Int, offset: UInt64, size: Int) -> UInt64 {
        accesses.withLock { $0.append("read \(index) 0x\(String(offset, radix: 16)) \(size)") }
        return 0x1234
    }

    func writeBAR(_ index: Int, offset: UInt64, size: Int, value: UInt64) {
        accesses.withLock { $0.append("write \(index) 0x\(String(offset, radix: 16)) \(size) 0x\(String(value, radix: 16))") }
    }
}

@Suite struct PCIBusTests {
    static func makeBus() throws -> PCIBus {
        try PCIBus(devices: [
            RecordingPCIDevice(bars: [PCIBar(index: 0, size: 0x1000)]),
            RecordingPCIDevice(bars: [PCIBar(index: 1, size: 0x4000), PCIBar(index: 2, size: 0x10_0000, is64Bit: true)]),
            RecordingPCIDevice(bars: [], interruptPin: 0),
        ])
    }

    /// Reads through 0xcf8/0xcfc as a guest does: address, then data at 0xcfc + (offset & 3).
    static func readPorts(_ ports: PCIConfigurationPorts, bus: Int, slot: Int, function: Int, offset: Int, size: Int) -> UInt32 {
        ports.write(offset: 0, size: 4, value: 1 << 31 | UInt32(bus) << 16 | UInt32(slot) << 11 | UInt32(function) << 8 | UInt32(offset & 0xfc))
        return ports.read(offset: 4 + UInt16(offset & 3), size: size)
    }

    @Test func hostBridgeInSlotZero() throws {
        let bus = try Self.makeBus()
        #expect(bus.readConfiguration(bus: 0, device: 0, function: 0, offset: 0, size: 4) == 0x0008_1b36)
        #expect(bus.readConfiguration(bus: 0, device: 0, function: 0, offset: 0x08, size: 4) >> 8 == 0x06_00_00)
        #expect(bus.readConfiguration(bus: 0, device: 0, function: 0, offset: 0x3d, size: 1) == 0, "no interrupt pin")
        #expect(bus.readConfiguration(bus: 0, device: 1, function: 0, offset: 0, size: 4) == 0x1041_1af4)
        #expect(bus.devices.count == 3)
    }

    @Test func emptySlotsFunctionsAndBusesReadAllOnes() throws {
        let bus = try Self.makeBus()
        #expect(bus.readConfiguration(bus: 0, device: 4, function: 0, offset: 0, size: 4) == 0xffff_ffff)
        #expect(bus.readConfiguration(bus: 0, device: 31, function: 0, offset: 0, size: 2) == 0xffff)
        #expect(bus.readConfiguration(bus: 0, device: 1, function: 1, offset: 0, size: 1) == 0xff)
        #expect(bus.readConfiguration(bus: 1, device: 0, function: 0, offset: 0, size: 4) == 0xffff_ffff)
        bus.writeConfiguration(bus: 0, device: 9, function: 0, offset: 4, size: 2, value: 6)
        bus.writeConfiguration(bus: 0, device: 1, function: 3, offset: 4, size: 2, value: 6)
        #expect(bus.readConfiguration(bus: 0, device: 1, function: 0, offset: 4, size: 2) == 0, "the write went nowhere")
    }

    @Test func barsAreNaturallyAlignedInTheWindowInSlotOrder() throws {
        let bus = try Self.makeBus()
        let first = bus.devices[0].configuration, second = bus.devices[1].configuration
        #expect(first.barAddress(0) == 0xc000_0000)
        #expect(second.barAddress(1) == 0xc000_4000)
        #expect(second.barAddress(2) == 0xc010_0000)
        #expect(second.read(offset: 0x18, size: 4) == 0xc010_0004 && second.read(offset: 0x1c, size: 4) == 0)
    }

    @Test func interruptLineIsTheSlotGSI() throws {
        let bus = try Self.makeBus()
        #expect(bus.devices[0].configuration.read(offset: 0x3c, size: 1) == 17)
        #expect(bus.devices[1].configuration.read(offset: 0x3c, size: 1) == 18)
        #expect(bus.devices[2].configuration.read(offset: 0x3c, size: 1) == 0, "no pin, no line")
        #expect((0..<32).map { PCIBus.interruptGSI(slot: $0) } == (0..<32).map { 16 + UInt32($0 % 8) })
        #expect(PCIBus.interruptGSI(slot: 7, pin: 2) == 16)
    }

    @Test func tooManyDevicesOrTooLargeBARsAreRefused() {
        #expect(throws: VMMError.self) {
            try PCIBus(devices: (0..<32).map { _ in RecordingPCIDevice(bars: []) })
        }
        #expect(throws: VMMError.self) {
            try PCIBus(devices: [RecordingPCIDevice(bars: [PCIBar(index: 0, size: 1 << 30)])])
        }
        #expect(throws: VMMError.self) {
            try PCIBus(devices: [
                RecordingPCIDevice(bars: [PCIBar(index: 0, size: 0x1000)]),
                RecordingPCIDevice(bars: [PCIBar(index: 0, size: 1 << 29)]),
            ])
        }
        #expect(throws: Never.self) { try PCIBus(devices: [RecordingPCIDevice(bars: [PCIBar(index: 0, size: 1 << 29)])]) }
    }

    @Test func portsAndECAMGiveTheSameAnswers() throws {
        let bus = try Self.makeBus()
        let ports = PCIConfigurationPorts(bus: bus)
        let ecam = PCIExpressConfigurationWindow(bus: bus)
        for slot in 0..<32 {
            for function in [0, 1] {
                for offset in stride(from: 0, to: 0x100, by: 1) {
                    for size in [1, 2, 4] where offset % size == 0 {
                        let viaPorts = Self.readPorts(ports, bus: 0, slot: slot, function: function, offset: offset, size: size)
                        let viaECAM = ecam.read(offset: UInt64(slot << 15 | function << 12 | offset), size: size)
                        #expect(UInt64(viaPorts) == viaECAM, "slot \(slot).\(function) offset \(offset) size \(size)")
                    }
                }
            }
        }
    }

    @Test func writesThroughEitherMechanismReachTheSameRegisters() throws {
        let bus = try Self.makeBus()
        let ports = PCIConfigurationPorts(bus: bus)
        let ecam = PCIExpressConfigurationWindow(bus: bus)
        ecam.write(offset: 2 << 15 | 0x04, size: 2, value: 0x0006)
        #expect(Self.readPorts(ports, bus: 0, slot: 2, function: 0, offset: 0x04, size: 2) == 0x0006)
        ports.write(offset: 0, size: 4, value: 1 << 31 | 1 << 11 | 0x3c)
        ports.write(offset: 4, size: 1, value: 0x0b)
        #expect(ecam.read(offset: 1 << 15 | 0x3c, size: 1) == 0x0b)
        ecam.write(offset: 2 << 15 | 0x14, size: 4, value: 0xffff_ffff)
        #expect(Self.readPorts(ports, bus: 0, slot: 2, function: 0, offset: 0x14, size: 4) == 0xffff_c000)
    }

    @Test func addressRegisterNeedsTheEnableBit() throws {
        let ports = PCIConfigurationPorts(bus: try Self.makeBus())
        ports.write(offset: 0, size: 4, value: 1 << 11)
        #expect(ports.read(offset: 0, size: 4) == 1 << 11, "the address register reads back")
        #expect(ports.read(offset: 4, size: 4) == 0xffff_ffff)
        ports.write(offset: 0, size: 4, value: 1 << 31 | 1 << 11)
        #expect(ports.read(offset: 4, size: 4) == 0x1041_1af4)
        #expect(ports.read(offset: 6, size: 2) == 0x1041)
        #expect(ports.read(offset: 7, size: 1) == 0x10)
        #expect(ports.read(offset: 6, size: 4) == 0xffff_ffff, "beyond the data window")
        // Byte accesses to 0xcf8-0xcfb neither read nor change the address register.
        ports.write(offset: 3, size: 1, value: 0)
        #expect(ports.read(offset: 0, size: 1) == 0xff)
        #expect(ports.read(offset: 0, size: 4) == 1 << 31 | 1 << 11)
    }

    @Test func ecamBeyondTheStandardHeaderAndWideAccesses() throws {
        let ecam = PCIExpressConfigurationWindow(bus: try Self.makeBus())
        #expect(ecam.read(offset: 1 << 15 | 0x100, size: 4) == 0, "extended space of a present function")
        #expect(ecam.read(offset: 5 << 15 | 0x100, size: 4) == 0xffff_ffff)
        #expect(ecam.read(offset: 1 << 15, size: 8) == .max)
        #expect(ecam.read(offset: PCIExpressConfigurationWindow.size, size: 4) == 0xffff_ffff)
    }

    @Test func barAccessesReachTheirDevice() throws {
        let bus = try Self.makeBus()
        var builder = MMIOBus.Builder(unhandled: UnhandledAccessLog(log: Logger(minimumLevel: .error)))
        bus.registerBARs(on: &builder)
        let mmio = builder.build()
        #expect(mmio.read(address: 0xc000_0010, size: 4) == 0x1234)
        mmio.write(address: 0xc010_0ff8, size: 8, value: 0xabcd)
        mmio.write(address: 0xc000_7fff, size: 1, value: 1)
        #expect(mmio.read(address: 0xc000_1000, size: 4) == 0xffff_ffff, "between BARs")
        let first = try #require(bus.devices[0] as? RecordingPCIDevice)
        let second = try #require(bus.devices[1] as? RecordingPCIDevice)
        #expect(first.log == ["read 0 0x10 4"])
        #expect(second.log == ["write 2 0xff8 8 0xabcd", "write 1 0x3fff 1 0x1"])
    }
}
