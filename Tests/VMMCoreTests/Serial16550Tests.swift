import Testing
@testable import VMMCore

@Suite struct Serial16550Tests {
    // Register offsets from the base port.
    static let data: UInt16 = 0, interruptEnable: UInt16 = 1, interruptID: UInt16 = 2, fifoControl: UInt16 = 2
    static let lineControl: UInt16 = 3, modemControl: UInt16 = 4, lineStatus: UInt16 = 5
    static let modemStatus: UInt16 = 6, scratch: UInt16 = 7

    let line = RecordingInterruptLine()
    let output = OutputRecorder()
    let uart: Serial16550

    init() { uart = Serial16550(interrupt: line, output: output.sink) }

    func read(_ offset: UInt16) -> UInt8 { UInt8(truncatingIfNeeded: uart.read(offset: offset, size: 1)) }
    func write(_ offset: UInt16, _ value: UInt8) { uart.write(offset: offset, size: 1, value: UInt32(value)) }

    @Test func transmittedBytesReachTheOutput() {
        for byte in Array("hi\n".utf8) { write(Self.data, byte) }
        #expect(output.bytes == Array("hi\n".utf8))
    }

    @Test func lineStatusReportsAnEmptyTransmitterAndQueuedInput() {
        #expect(read(Self.lineStatus) == 0x60)
        #expect(uart.receive([0x41]) == 1)
        #expect(read(Self.lineStatus) == 0x61)
        #expect(read(Self.data) == 0x41)
        #expect(read(Self.lineStatus) == 0x60)
    }

    @Test func divisorLatchReplacesDataAndInterruptEnableWhileDLABIsSet() {
        write(Self.interruptEnable, 0x05)
        write(Self.lineControl, 0x83)
        write(Self.data, 0x01)
        write(Self.interruptEnable, 0x02)
        #expect(read(Self.data) == 0x01)
        #expect(read(Self.interruptEnable) == 0x02)
        #expect(output.bytes.isEmpty, "divisor writes are not transmitted")
        write(Self.lineControl, 0x03)
        #expect(read(Self.lineControl) == 0x03)
        #expect(read(Self.interruptEnable) == 0x05, "IER unchanged by the divisor write")
        write(Self.lineControl, 0x83)
        #expect(read(Self.data) == 0x01, "divisor kept")
    }

    @Test func scratchRegisterHoldsAByte() {
        write(Self.scratch, 0x5A)
        #expect(read(Self.scratch) == 0x5A)
        write(Self.scratch, 0xA5)
        #expect(read(Self.scratch) == 0xA5)
    }

    @Test func interruptIdentificationFollowsPriority() {
        #expect(read(Self.interruptID) == 0x01)
        _ = uart.receive([0x31])
        #expect(read(Self.interruptID) == 0x01, "RX interrupt not enabled yet")
        write(Self.interruptEnable, 0x01)
        #expect(read(Self.interruptID) == 0x04)
        _ = read(Self.data)
        #expect(read(Self.interruptID) == 0x01)

        write(Self.interruptEnable, 0x03)
        #expect(read(Self.interruptID) == 0x02)
        #expect(read(Self.interruptID) == 0x01, "reading IIR acknowledges THRE")
        write(Self.data, 0x40)
        _ = uart.receive([0x32])
        #expect(read(Self.interruptID) == 0x04, "received data outranks THRE")
    }

    @Test func fifoEnableShowsInIIRAndFifoResetDropsInput() {
        write(Self.fifoControl, 0x01)
        #expect(read(Self.interruptID) == 0xC1)
        _ = uart.receive([1, 2, 3])
        write(Self.fifoControl, 0x03)
        #expect(read(Self.lineStatus) & 0x01 == 0)
    }

    @Test func interruptsArePulsedOnlyWithOUT2() {
        write(Self.modemControl, 0x00)
        write(Self.interruptEnable, 0x01)
        _ = uart.receive([0x61])
        #expect(line.pulses == 0)

        _ = read(Self.data)
        write(Self.modemControl, 0x08)
        _ = uart.receive([0x62])
        #expect(line.pulses == 1)
        #expect(!line.isHigh, "an edge, not a held level")
    }

    @Test func readingLeavesAnInterruptForRemainingInput() {
        write(Self.interruptEnable, 0x01)
        _ = uart.receive([0x61, 0x62])
        #expect(line.pulses == 1)
        _ = read(Self.data)
        #expect(line.pulses == 2, "one byte still queued")
        _ = read(Self.data)
        #expect(line.pulses == 2)
    }

    @Test func loopbackMirrorsModemControlAndReturnsTransmittedData() {
        write(Self.modemControl, 0x1A)
        #expect(read(Self.modemStatus) & 0xF0 == 0x90)
        write(Self.modemControl, 0x1F)
        #expect(read(Self.modemStatus) & 0xF0 == 0xF0)
        write(Self.data, 0x7E)
        #expect(output.bytes.isEmpty)
        #expect(read(Self.lineStatus) & 0x01 == 0x01)
        #expect(read(Self.data) == 0x7E)
        write(Self.modemControl, 0x0B)
        #expect(read(Self.modemStatus) == 0xB0)
        write(Self.data, 0x7F)
        #expect(output.bytes == [0x7F])
    }

    @Test func receiveStopsAtCapacity() {
        let capacity = Serial16550.inputCapacity
        #expect(uart.receive([UInt8](repeating: 0x55, count: capacity + 100)) == capacity)
        #expect(uart.receive([0x56]) == 0)
        #expect(read(Self.data) == 0x55)
        #expect(uart.receive([0x57, 0x58]) == 1)
        for _ in 0..<(capacity - 1) { _ = read(Self.data) }
        #expect(read(Self.data) == 0x57, "first-in, first-out; the rejected byte was not queued")
        #expect(read(Self.lineStatus) & 0x01 == 0)
    }
}
