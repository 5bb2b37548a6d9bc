import Synchronization
import Testing
@testable import VMMCore

/// A device that remembers every access it saw.
final class RecordingPortDevice: PortIODevice {
    private let accesses = Mutex<[String]>([])
    var log: [String] { accesses.withLock { $0 } }

    func read(offset: UInt16, size: Int) -> UInt32 {
        accesses.withLock { $0.append("r\(offset)/\(size)") }
        return 0x1000 + UInt32(offset)
    }

    func write(offset: UInt16, size: Int, value: UInt32) {
        accesses.withLock { $0.append("w\(offset)/\(size)=\(value)") }
    }
}

@Suite struct PortIOBusTests {
    let device = RecordingPortDevice()
    let bus: PortIOBus

    init() {
        var builder = PortIOBus.Builder(unhandled: UnhandledAccessLog(log: Logger(minimumLevel: .error)))
        builder.register(device, base: 0x3f8, count: 8)
        bus = builder.build()
    }

    @Test func accessesReachTheDeviceWithOffsetsFromItsBase() {
        #expect(bus.read(port: 0x3f8, size: 1) == 0x1000)
        #expect(bus.read(port: 0x3fd, size: 2) == 0x1005)
        bus.write(port: 0x3ff, size: 4, value: 9)
        #expect(device.log == ["r0/1", "r5/2", "w7/4=9"])
    }

    @Test(arguments: [(1, UInt32(0xff)), (2, 0xffff), (4, 0xffff_ffff)])
    func unclaimedPortsReadAllOnes(size: Int, expected: UInt32) {
        #expect(bus.read(port: 0x3f7, size: size) == expected)
        #expect(bus.read(port: 0x400, size: size) == expected, "one past the range")
        #expect(bus.read(port: 0xffff, size: size) == expected)
        #expect(device.log.isEmpty)
    }

    @Test func unclaimedWritesAreIgnored() {
        bus.write(port: 0x80, size: 1, value: 0x12)
        bus.write(port: 0x400, size: 2, value: 0x12)
        #expect(device.log.isEmpty)
    }

    @Test func rangeReachingTheTopPortWorks() {
        let top = RecordingPortDevice()
        var builder = PortIOBus.Builder(unhandled: UnhandledAccessLog(log: Logger(minimumLevel: .error)))
        builder.register(top, base: 0xfff0, count: 0x10)
        let bus = builder.build()
        #expect(bus.read(port: 0xffff, size: 1) == 0x100f)
        #expect(bus.read(port: 0xffef, size: 1) == 0xff)
    }
}

@Suite struct PortIOBusBuilderTests {
    @Test func overlappingRegistrationTraps() async {
        await #expect(processExitsWith: .failure) {
            var builder = PortIOBus.Builder(unhandled: UnhandledAccessLog(log: Logger(minimumLevel: .error)))
            builder.register(RecordingPortDevice(), base: 0x3f8, count: 8)
            builder.register(RecordingPortDevice(), base: 0x3fc, count: 2)
        }
    }

    /// A range ending at the top of the port space (0xFFFF) must not wrap the overlap check.
    @Test func overlapAtTheTopOfThePortSpaceTraps() async {
        await #expect(processExitsWith: .failure) {
            var builder = PortIOBus.Builder(unhandled: UnhandledAccessLog(log: Logger(minimumLevel: .error)))
            builder.register(RecordingPortDevice(), base: 0xfff0, count: 0x10)
            builder.register(RecordingPortDevice(), base: 0xfff8, count: 4)
        }
        
    }
}
