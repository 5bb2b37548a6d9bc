import Foundation
import Testing
@testable import VMMCore

@Suite struct ACPIPowerManagementTests {
    static let status: UInt16 = 0, enable: UInt16 = 2, control: UInt16 = 4, timer: UInt16 = 8
    static let powerButton: UInt32 = 1 << 8
    static let sleepEnable: UInt32 = 1 << 13

    let sci = RecordingInterruptLine()
    let latch = MachineExitLatch(onFirstExit: {})
    let pm: ACPIPowerManagement

    init() { pm = ACPIPowerManagement(sci: sci, exitLatch: latch) }

    func read16(_ offset: UInt16) -> UInt32 { pm.read(offset: offset, size: 2) }
    func write16(_ offset: UInt16, _ value: UInt32) { pm.write(offset: offset, size: 2, value: value) }

    @Test func generalPurposeEventRaisesSCIOnceEnabledAndClearsOnWrite() {
        let gpeStatus: UInt16 = 12, gpeEnable: UInt16 = 14
        pm.raiseGeneralPurposeEvent(ACPIPowerManagement.generationIDEvent)
        #expect(pm.read(offset: gpeStatus, size: 1) == 1)
        #expect(!sci.isHigh, "not enabled yet")
        pm.write(offset: gpeEnable, size: 1, value: 1)
        #expect(sci.isHigh)
        pm.write(offset: gpeStatus, size: 1, value: 1)
        #expect(!sci.isHigh, "status is write-1-to-clear")
        #expect(pm.read(offset: gpeStatus, size: 1) == 0)
    }

    @Test func savedStateRestoresRegistersAndTimerWithoutAJump() throws {
        write16(Self.enable, Self.powerButton)
        pm.raiseGeneralPurposeEvent(1)
        let savedTimer = pm.read(offset: Self.timer, size: 4)
        var encoder = StateEncoder()
        pm.saveState(to: &encoder)
        let restored = ACPIPowerManagement(sci: RecordingInterruptLine(), exitLatch: latch)
        var decoder = StateDecoder(encoder.bytes)
        try restored.restoreState(from: &decoder)
        #expect(restored.read(offset: Self.enable, size: 2) == Self.powerButton)
        #expect(restored.read(offset: 12, size: 1) == 1)
        let timer = restored.read(offset: Self.timer, size: 4)
        #expect(timer &- savedTimer < 3_579_545, "the PM timer goes on from the saved value")
    }

    @Test func startsInACPIModeWithNothingPending() {
        #expect(read16(Self.status) == 0)
        #expect(read16(Self.enable) == 0)
        #expect(read16(Self.control) & 1 == 1, "SCI_EN")
    }

    @Test func enableRegisterReadsBack() {
        write16(Self.enable, 0x0121)
        #expect(read16(Self.enable) == 0x0121)
        pm.write(offset: 3, size: 1, value: 0)
        #expect(read16(Self.enable) == 0x0021, "byte writes touch one byte")
        #expect(pm.read(offset: 0, size: 4) >> 16 == 0x0021, "a 32-bit read spans status and enable")
    }

    @Test func powerButtonRaisesSCIOnlyWhenEnabled() {
        pm.pressPowerButton()
        #expect(read16(Self.status) & Self.powerButton != 0)
        #expect(!sci.isHigh)
        write16(Self.enable, Self.powerButton)
        #expect(sci.isHigh)
        write16(Self.status, 0)
        #expect(sci.isHigh, "writing zeros clears nothing")
        write16(Self.status, Self.powerButton)
        #expect(read16(Self.status) == 0, "write one to clear")
        #expect(!sci.isHigh)
        #expect(sci.history == [true, false])
    }

    @Test func sciStaysLowWithoutSCIEnable() {
        write16(Self.control, 0)
        write16(Self.enable, Self.powerButton)
        pm.pressPowerButton()
        #expect(!sci.isHigh)
        write16(Self.control, 1)
        #expect(sci.isHigh)
    }

    @Test func softOffSleepPowersOff() {
        write16(Self.control, 5 << 10 | Self.sleepEnable | 1)
        #expect(latch.exit == .powerOff)
        #expect(read16(Self.control) & Self.sleepEnable == 0, "SLP_EN is write-only")
    }

    @Test func softOffByHighByteWritePowersOff() {
        pm.write(offset: 5, size: 1, value: (5 << 2) | (1 << 5))
        #expect(latch.exit == .powerOff)
    }

    @Test(arguments: [UInt32(0), 1, 3, 7])
    func otherSleepTypesDoNotPowerOff(sleepType: UInt32) {
        write16(Self.control, sleepType << 10 | Self.sleepEnable | 1)
        #expect(latch.exit == nil)
    }

    @Test func softOffTypeWithoutSleepEnableDoesNothing() {
        write16(Self.control, 5 << 10 | 1)
        #expect(latch.exit == nil)
        #expect(read16(Self.control) == 5 << 10 | 1)
    }

    @Test func timerAdvancesAtAbout3_58MHz() throws {
        // Bracket each timer read with clock reads, so preemption cannot skew the bounds.
        let clock = SuspendingClock()  // CLOCK_MONOTONIC, like the PM timer
        let t0 = clock.now
        let first = pm.read(offset: Self.timer, size: 4)
        let t1 = clock.now
        Thread.sleep(forTimeInterval: 0.02)
        let t2 = clock.now
        let second = pm.read(offset: Self.timer, size: 4)
        let t3 = clock.now
        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        let ticks = Double(second &- first)
        #expect(ticks >= 3_579_545 * seconds(t2 - t1) * 0.99)
        #expect(ticks <= 3_579_545 * seconds(t3 - t0) * 1.01 + 2)
        #expect(ticks > 0)
    }
}
