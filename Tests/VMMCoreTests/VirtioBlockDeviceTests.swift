#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VMMCore

@Suite struct VirtioBlockDeviceTests {
    let image = TemporaryImage(size: 1 << 20)
    let memory = try! GuestMemory(size: 16 << 20)

    private func start(readOnly: Bool = false) throws -> (VirtioBlockDevice, VirtioBlockTestDriver) {
        let device = try VirtioBlockDevice(configuration: DiskConfiguration(path: image.path, readOnly: readOnly), log: quietLog)
        let driver = try VirtioBlockTestDriver(memory: memory)
        try device.activate(driver.activation(features: device.features))
        return (device, driver)
    }

    @Test func writeReadAndFlushRoundTrip() throws {
        let (device, driver) = try start()
        defer { device.reset() }
        let data = pattern(count: 1024, seed: 9)
        let write = driver.perform(type: BlockRequestType.write, sector: 3, out: data)
        #expect(write.status == BlockStatus.ok)
        #expect(write.written == 1)
        #expect(image.read(at: 3 * 512, count: 1024) == data)
        #expect(image.read(at: 2 * 512, count: 512) == [UInt8](repeating: 0, count: 512))

        let read = driver.perform(type: BlockRequestType.read, sector: 3, inLength: 1024)
        #expect(read.status == BlockStatus.ok)
        #expect(read.written == 1025)
        #expect(read.data == data)

        #expect(driver.perform(type: BlockRequestType.flush).status == BlockStatus.ok)
    }

    @Test func dataAndStatusMaySpanDescriptorsAnyWay() throws {
        let (device, driver) = try start()
        defer { device.reset() }
        let data = pattern(count: 512, seed: 4)
        image.write(data, at: 7 * 512)
        // Header split 10 + 6, data split 100 + 412 with the status byte in the second piece.
        let header = driver.allocate(16)
        try memory.write(BlockRequestType.read, at: header)
        try memory.write(UInt64(7), at: header + 8)
        let first = driver.allocate(100)
        let second = driver.allocate(413)
        let head = driver.submit([
            .init(address: header, length: 10, writable: false),
            .init(address: header + 10, length: 6, writable: false),
            .init(address: first, length: 100, writable: true),
            .init(address: second, length: 413, writable: true),
        ])
        #expect(driver.waitForCompletion(of: head) == 513)
        #expect(memory.readBytes(at: first, count: 100)! + memory.readBytes(at: second, count: 412)! == data)
        #expect(memory.read(UInt8.self, at: second + 412) == BlockStatus.ok)
    }

    @Test func getIDReturnsTheSerialPaddedToTwentyBytes() throws {
        let (device, driver) = try start()
        defer { device.reset() }
        var status = stat()
        stat(image.path, &status)
        let expected = Array("vmm-\(String(UInt64(status.st_ino), radix: 16))".utf8)
        let result = driver.perform(type: BlockRequestType.getID, inLength: 20)
        #expect(result.status == BlockStatus.ok)
        #expect(result.written == 21)
        #expect(result.data == expected + [UInt8](repeating: 0, count: 20 - expected.count))
    }

    @Test func discardPunchesAHole() throws {
        let image = TemporaryImage(size: 1 << 20, fill: 0xaa)
        let device = try VirtioBlockDevice(configuration: DiskConfiguration(path: image.path), log: quietLog)
        let driver = try VirtioBlockTestDriver(memory: memory)
        try device.activate(driver.activation(features: device.features))
        defer { device.reset() }
        #expect(image.nextData(from: 256 << 10) == 256 << 10)
        let request = driver.sendSegments(type: BlockRequestType.discard, [(sector: 512, sectors: 256, flags: 0)])
        #expect(driver.result(of: request).status == BlockStatus.ok)
        #expect(image.nextData(from: 256 << 10) == 384 << 10)
        #expect(image.read(at: 256 << 10, count: 128 << 10) == [UInt8](repeating: 0, count: 128 << 10))
        #expect(image.read(at: (256 << 10) - 1, count: 1) == [0xaa])
        #expect(image.read(at: 384 << 10, count: 1) == [0xaa])
    }

    @Test(arguments: [UInt32(0), 1])
    func writeZeroesClearsTheRange(flags: UInt32) throws {
        let image = TemporaryImage(size: 1 << 20, fill: 0x55)
        let device = try VirtioBlockDevice(configuration: DiskConfiguration(path: image.path), log: quietLog)
        let driver = try VirtioBlockTestDriver(memory: memory)
        try device.activate(driver.activation(features: device.features))
        defer { device.reset() }
        let request = driver.sendSegments(
            type: BlockRequestType.writeZeroes, [(sector: 1, sectors: 2, flags: flags), (sector: 100, sectors: 8, flags: flags)])
        #expect(driver.result(of: request).status == BlockStatus.ok)
        #expect(image.read(at: 0, count: 512) == [UInt8](repeating: 0x55, count: 512))
        #expect(image.read(at: 512, count: 1024) == [UInt8](repeating: 0, count: 1024))
        #expect(image.read(at: 1536, count: 1) == [0x55])
        #expect(image.read(at: 100 * 512, count: 4096) == [UInt8](repeating: 0, count: 4096))
    }

    @Test func readOnlyDiskRejectsWritesAndLeavesTheFileAlone() throws {
        let (device, driver) = try start(readOnly: true)
        defer { device.reset() }
        #expect(device.features & VirtioBlockFeature.readOnly != 0)
        #expect(device.features & VirtioBlockFeature.discard == 0)
        let before = image.read(at: 0, count: 1 << 20)
        let write = driver.perform(type: BlockRequestType.write, sector: 0, out: pattern(count: 512))
        #expect(write.status == BlockStatus.ioError)
        #expect(write.written == 1)
        let discard = driver.sendSegments(type: BlockRequestType.discard, [(sector: 0, sectors: 8, flags: 0)])
        #expect(driver.result(of: discard).status == BlockStatus.ioError)
        let zeroes = driver.sendSegments(type: BlockRequestType.writeZeroes, [(sector: 0, sectors: 8, flags: 0)])
        #expect(driver.result(of: zeroes).status == BlockStatus.ioError)
        #expect(image.read(at: 0, count: 1 << 20) == before)
        #expect(driver.perform(type: BlockRequestType.read, sector: 0, inLength: 512).status == BlockStatus.ok)
    }

    @Test(arguments: [
        (UInt64(2048), 512),  // first sector past the end
        (UInt64(2047), 1024),  // starts inside, ends past the end
        (UInt64.max, 512),  // sector * 512 overflows
        (UInt64.max / 512 + 1, 512),
    ])
    func requestsPastTheEndFail(sector: UInt64, length: Int) throws {
        let (device, driver) = try start()
        defer { device.reset() }
        #expect(driver.perform(type: BlockRequestType.read, sector: sector, inLength: length).status == BlockStatus.ioError)
        #expect(driver.perform(type: BlockRequestType.write, sector: sector, out: pattern(count: length)).status
            == BlockStatus.ioError)
        let discard = driver.sendSegments(type: BlockRequestType.discard, [(sector: sector, sectors: UInt32(length / 512), flags: 0)])
        #expect(driver.result(of: discard).status == BlockStatus.ioError)
        // The last sector itself is fine.
        #expect(driver.perform(type: BlockRequestType.read, sector: 2047, inLength: 512).status == BlockStatus.ok)
    }

    @Test func malformedRequestsFailAndTheDeviceKeepsWorking() throws {
        let (device, driver) = try start()
        defer { device.reset() }
        let header = driver.allocate(16)
        try memory.write(BlockRequestType.read, at: header)
        let data = driver.allocate(4096)
        let status = driver.allocate(1)
        func check(_ buffers: [VirtioBlockTestDriver.Buffer], _ expected: UInt8, written: UInt32 = 1,
                   sourceLocation: SourceLocation = #_sourceLocation) throws {
            try memory.write(UInt8(0xff), at: status)
            let head = driver.submit(buffers)
            #expect(driver.waitForCompletion(of: head) == written, sourceLocation: sourceLocation)
            #expect(memory.read(UInt8.self, at: status) == expected, sourceLocation: sourceLocation)
        }
        let statusBuffer = VirtioBlockTestDriver.Buffer(address: status, length: 1, writable: true)
        // Short header.
        try check([.init(address: header, length: 8, writable: false), statusBuffer], BlockStatus.ioError)
        // No status byte at all: returned with nothing written.
        try check([.init(address: header, length: 16, writable: false), .init(address: data, length: 512, writable: false)],
                  0xff, written: 0)
        // A read with device-readable data.
        try check([.init(address: header, length: 16, writable: false), .init(address: data, length: 512, writable: false),
                   statusBuffer], BlockStatus.ioError)
        // Not whole sectors.
        try check([.init(address: header, length: 16, writable: false), .init(address: data, length: 513, writable: true),
                   statusBuffer], BlockStatus.ioError)
        // A segment larger than size_max (1 MiB).
        try check([.init(address: header, length: 16, writable: false),
                   .init(address: 0x20_0000, length: 2 << 20, writable: true), statusBuffer], BlockStatus.ioError)
        // A write with device-writable data.
        try memory.write(BlockRequestType.write, at: header)
        try check([.init(address: header, length: 16, writable: false), .init(address: data, length: 512, writable: true),
                   statusBuffer], BlockStatus.ioError)
        // Unknown type.
        try memory.write(UInt32(99), at: header)
        try check([.init(address: header, length: 16, writable: false), statusBuffer], BlockStatus.unsupported)
        // Flush with data.
        try memory.write(BlockRequestType.flush, at: header)
        try check([.init(address: header, length: 16, writable: false), .init(address: data, length: 512, writable: true),
                   statusBuffer], BlockStatus.ioError)
        // Discard: unmap flag, unknown flags, too many segments, not whole segments.
        let unmap = driver.sendSegments(type: BlockRequestType.discard, [(sector: 0, sectors: 8, flags: 1)])
        #expect(driver.result(of: unmap).status == BlockStatus.unsupported)
        let unknown = driver.sendSegments(type: BlockRequestType.writeZeroes, [(sector: 0, sectors: 8, flags: 4)])
        #expect(driver.result(of: unknown).status == BlockStatus.unsupported)
        let many = driver.sendSegments(
            type: BlockRequestType.discard, Array(repeating: (sector: 0, sectors: 8, flags: 0), count: 33))
        #expect(driver.result(of: many).status == BlockStatus.ioError)
        let ragged = driver.send(type: BlockRequestType.discard, out: [UInt8](repeating: 0, count: 20))
        #expect(driver.result(of: ragged).status == BlockStatus.ioError)
        #expect(driver.perform(type: BlockRequestType.read, sector: 0, inLength: 512).status == BlockStatus.ok)
        #expect(driver.resetReasons.withLock { $0 }.isEmpty)
    }

    @Test func brokenRingAsksForAResetAndStopsServing() throws {
        let (device, driver) = try start()
        defer { device.reset() }
        try memory.write(UInt16(1000), at: driver.layout.availableRing + 4)  // head index out of range
        try memory.write(UInt16(1), at: driver.layout.availableRing + 2)
        driver.notifier.signal()
        for _ in 0..<2000 where driver.resetReasons.withLock({ $0.isEmpty }) { usleep(1000) }
        #expect(driver.resetReasons.withLock { $0 }.count == 1)
        #expect(driver.usedIndex == 0)
    }

    @Test func configurationSpace() throws {
        let device = try VirtioBlockDevice(configuration: DiskConfiguration(path: image.path), log: quietLog)
        #expect(device.deviceType == .block)
        #expect(device.queueMaximumSizes == [256])
        let offered: [UInt64] = [
            VirtioFeature.eventIndex, VirtioFeature.indirectDescriptors, VirtioBlockFeature.sizeMaximum,
            VirtioBlockFeature.segmentMaximum, VirtioBlockFeature.blockSize, VirtioBlockFeature.flush,
            VirtioBlockFeature.discard, VirtioBlockFeature.writeZeroes,
        ]
        #expect(device.features == offered.reduce(0, |))
        #expect(device.readConfiguration(offset: 0, size: 4) == 2048)  // capacity, low half
        #expect(device.readConfiguration(offset: 4, size: 4) == 0)
        #expect(device.readConfiguration(offset: 8, size: 4) == 1 << 20)  // size_max
        #expect(device.readConfiguration(offset: 12, size: 4) == 254)  // seg_max
        #expect(device.readConfiguration(offset: 20, size: 4) == 512)  // blk_size
        #expect(device.readConfiguration(offset: 20, size: 2) == 512)
        #expect(device.readConfiguration(offset: 36, size: 4) == 1 << 22)  // max_discard_sectors
        #expect(device.readConfiguration(offset: 40, size: 4) == 32)  // max_discard_seg
        #expect(device.readConfiguration(offset: 44, size: 4) == 8)  // discard_sector_alignment
        #expect(device.readConfiguration(offset: 48, size: 4) == 1 << 22)  // max_write_zeroes_sectors
        #expect(device.readConfiguration(offset: 52, size: 4) == 32)  // max_write_zeroes_seg
        #expect(device.readConfiguration(offset: 56, size: 1) == 1)  // write_zeroes_may_unmap
        #expect(device.readConfiguration(offset: 58, size: 4) == 0)  // past the end reads zero
        #expect(device.readConfiguration(offset: 4096, size: 4) == 0)
        #expect(device.readConfiguration(offset: 0, size: 3) == 0)
        device.writeConfiguration(offset: 0, size: 4, value: 7)
        #expect(device.readConfiguration(offset: 0, size: 4) == 2048)
    }
}
