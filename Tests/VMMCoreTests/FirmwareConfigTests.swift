import Testing
@testable import VMMCore

@Suite struct FirmwareConfigTests {
    let config = FirmwareConfig(ramSize: 0x1_2345_6789, cpuCount: 0x0302)

    func select(_ key: UInt16) { config.write(offset: 0, size: 2, value: UInt32(key)) }
    func readBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(config.read(offset: 1, size: 1)) } }

    @Test func ramSizeIsLittleEndianByteByByte() {
        select(FirmwareConfig.ramSizeKey)
        #expect(readBytes(8) == [0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0])
        #expect(readBytes(2) == [0, 0], "reads past the item give zeros")
    }

    @Test func cpuCountIsTwoBytes() {
        select(0x05)
        #expect(readBytes(3) == [0x02, 0x03, 0x00])
    }

    @Test func unknownKeyReadsZeros() {
        select(0x1234)
        #expect(readBytes(4) == [0, 0, 0, 0])
    }

    @Test func reselectingRestartsAtTheFirstByte() {
        select(0x03)
        _ = readBytes(5)
        select(0x03)
        #expect(readBytes(2) == [0x89, 0x67])
    }

    @Test func widerReadsReturnConsecutiveBytes() {
        select(0x03)
        #expect(config.read(offset: 1, size: 4) == 0x2345_6789)
        #expect(config.read(offset: 1, size: 2) == 0x0001)
    }

    @Test func selectorPortIsNotData() {
        select(0x03)
        #expect(config.read(offset: 0, size: 2) == 0)
        #expect(readBytes(1) == [0x89], "reading the selector port does not advance the data")
    }
}
