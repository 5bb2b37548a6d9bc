import Testing
@testable import VMMCore

@Suite struct I8042ControllerTests {
    let latch = MachineExitLatch(onFirstExit: {})
    let controller: I8042Controller

    init() { controller = I8042Controller(exitLatch: latch) }

    func command(_ byte: UInt8) { controller.write(offset: 4, size: 1, value: UInt32(byte)) }
    func data(_ byte: UInt8) { controller.write(offset: 0, size: 1, value: UInt32(byte)) }
    var status: UInt32 { controller.read(offset: 4, size: 1) }

    @Test func pulseResetCommandResetsTheMachine() {
        command(0xFE)
        #expect(latch.exit == .reset)
    }

    @Test func outputPortWriteWithResetLowResetsTheMachine() {
        command(0xD1)
        data(0x03)
        #expect(latch.exit == nil)
        command(0xD1)
        data(0xFE)
        #expect(latch.exit == .reset)
    }

    @Test func selfTestAnswersThroughTheOutputBuffer() {
        #expect(status == 0x04)
        command(0xAA)
        #expect(status == 0x05)
        #expect(controller.read(offset: 0, size: 1) == 0x55)
        #expect(status == 0x04, "reading data empties the output buffer")
    }

    @Test func commandByteReadsBack() {
        command(0x60)
        data(0x47)
        command(0x20)
        #expect(controller.read(offset: 0, size: 1) == 0x47)
        #expect(latch.exit == nil)
    }
}
