#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// ACPI fixed hardware: the PM1a event and control blocks and the PM timer, at the
/// ports the FADT names. Drives the SCI, turns SLP_EN into power-off, and presses the
/// power button for the host.
public final class ACPIPowerManagement: PortIODevice {
    public static let port: UInt16 = 0x600
    public static let portCount: UInt16 = 16
    public static let eventBlockPort: UInt16 = port
    public static let controlBlockPort: UInt16 = port + 4
    public static let timerPort: UInt16 = port + 8
    /// GPE0 block: status then enable, one byte each used (GPE0_BLK_LEN 4).
    public static let gpe0Port: UInt16 = port + 12
    /// GPE0 bit 0: the DSDT's `_E00` notifies the VM generation ID device.
    public static let generationIDEvent: UInt16 = 1 << 0
    public static let sciInterrupt: UInt32 = 9
    /// SLP_TYP the DSDT's \_S5 announces for soft-off.
    public static let softOffSleepType: UInt16 = 5

    private static let powerButtonStatus: UInt16 = 1 << 8
    private static let timerStatus: UInt16 = 1 << 0
    private static let sciEnable: UInt16 = 1 << 0
    private static let sleepEnable: UInt16 = 1 << 13
    private static let timerFrequency: UInt64 = 3_579_545

    struct Registers {
        var status: UInt16 = 0
        var enable: UInt16 = 0
        // No SMI command port, so the platform is in ACPI mode from reset.
        var control: UInt16 = ACPIPowerManagement.sciEnable
        var gpeStatus: UInt16 = 0
        var gpeEnable: UInt16 = 0
        var sciAsserted = false

        var sciShouldAssert: Bool {
            control & sciEnable != 0 && (status & enable != 0 || gpeStatus & gpeEnable != 0)
        }
    }

    let registers = Mutex(Registers())
    private let timerOffset = Atomic<UInt32>(0)
    private let sci: any InterruptLine
    private let exitLatch: MachineExitLatch

    public init(sci: any InterruptLine, exitLatch: MachineExitLatch) {
        self.sci = sci
        self.exitLatch = exitLatch
    }

    /// Presses the fixed-feature power button: PWRBTN_STS, and an SCI if the guest enabled it.
    public func pressPowerButton() {
        update { $0.status |= Self.powerButtonStatus }
    }

    /// Raises a general-purpose event: its GPE0 status bit, and an SCI if the guest enabled it.
    public func raiseGeneralPurposeEvent(_ bits: UInt16) {
        update { $0.gpeStatus |= bits }
    }

    public func read(offset: UInt16, size: Int) -> UInt32 {
        if (8..<12).contains(offset) { return timerValue() >> (8 * UInt32(offset - 8)) }
        let r = registers.withLock { $0 }
        var value: UInt32 = 0
        for index in 0..<min(size, 4) {
            let byteOffset = Int(offset) + index
            let register: UInt16
            switch byteOffset / 2 {
            case 0: register = r.status
            case 1: register = r.enable
            case 2: register = r.control
            case 6: register = r.gpeStatus
            case 7: register = r.gpeEnable
            default: register = 0
            }
            value |= UInt32((register >> (8 * UInt16(byteOffset % 2))) & 0xff) << (8 * index)
        }
        return value
    }

    public func write(offset: UInt16, size: Int, value: UInt32) {
        guard offset < 8 || offset >= 12 else { return }
        var powerOff = false
        update { r in
            for index in 0..<min(size, 4) {
                let byteOffset = Int(offset) + index
                let shift = UInt16(8 * (byteOffset % 2))
                let byte = UInt16((value >> (8 * UInt32(index))) & 0xff) << shift
                let mask: UInt16 = 0xff << shift
                switch byteOffset / 2 {
                case 0: r.status &= ~byte  // write 1 to clear
                case 1: r.enable = (r.enable & ~mask) | byte
                case 6: r.gpeStatus &= ~byte  // write 1 to clear
                case 7: r.gpeEnable = (r.gpeEnable & ~mask) | byte
                case 2:
                    r.control = (r.control & ~mask) | (byte & ~Self.sleepEnable)
                    let sleepType = (r.control >> 10) & 0x7
                    if byte & Self.sleepEnable != 0 && sleepType == Self.softOffSleepType {
                        powerOff = true
                    }
                default: break
                }
            }
        }
        if powerOff { exitLatch.report(.powerOff) }
    }

    /// Applies a change and moves the level-triggered SCI line if its level changed.
    func update(_ change: (inout Registers) -> Void) {
        let level = registers.withLock { r -> Bool? in
            change(&r)
            let assert = r.sciShouldAssert
            guard assert != r.sciAsserted else { return nil }
            r.sciAsserted = assert
            return assert
        }
        if let level { sci.set(high: level) }
    }

    /// The free-running 3.579545 MHz counter, 32 bits wide (FADT TMR_VAL_EXT).
    func timerValue() -> UInt32 {
        Self.hostTimerTicks() &+ timerOffset.load(ordering: .relaxed)
    }

    /// Makes the counter read `value` now: a restored guest sees it go on from where it
    /// was saved rather than jump by the time the snapshot spent on disk.
    func setTimerValue(_ value: UInt32) {
        timerOffset.store(value &- Self.hostTimerTicks(), ordering: .relaxed)
    }

    private static func hostTimerTicks() -> UInt32 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let ticks = UInt64(now.tv_sec) &* timerFrequency + UInt64(now.tv_nsec) * timerFrequency / 1_000_000_000
        return UInt32(truncatingIfNeeded: ticks)
    }
}
