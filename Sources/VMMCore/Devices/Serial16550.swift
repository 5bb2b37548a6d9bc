import Synchronization

/// A 16550A UART: the guest's serial console.
///
/// Transmission is instant (LSR always reports an empty transmitter), so the guest never
/// waits on the host. Received bytes queue in a bounded FIFO filled by the host's
/// console reader. The divisor latch, scratch register and loopback mode behave as on
/// hardware, because Linux's 8250 driver probes them before trusting the port.
public final class Serial16550: PortIODevice {
    public static let com1Port: UInt16 = 0x3f8
    public static let com1Interrupt: UInt32 = 4
    /// Bytes of host input held before the console reader has to wait.
    public static let inputCapacity = 1024

    struct Registers {
        var interruptEnable: UInt8 = 0
        var lineControl: UInt8 = 0x03
        var modemControl: UInt8 = 0x08
        var scratch: UInt8 = 0
        var divisorLow: UInt8 = 0x0c  // 9600 baud
        var divisorHigh: UInt8 = 0
        var fifoControl: UInt8 = 0
        var transmitterEmptyPending = false
        var input: [UInt8] = []
        var inputStart = 0

        var inputCount: Int { input.count - inputStart }
        var divisorLatchAccess: Bool { lineControl & 0x80 != 0 }
        var loopback: Bool { modemControl & 0x10 != 0 }

        /// The interrupt the IIR reports, by 16550 priority (received data before THRE).
        var pendingInterrupt: UInt8? {
            if interruptEnable & 0x01 != 0 && inputCount > 0 { return 0x04 }
            if interruptEnable & 0x02 != 0 && transmitterEmptyPending { return 0x02 }
            return nil
        }

        mutating func popInput() -> UInt8 {
            guard inputCount > 0 else { return 0 }
            let byte = input[inputStart]
            inputStart += 1
            // Drop consumed bytes now and then, so a guest that never drains the FIFO
            // completely cannot make the array grow.
            if inputStart == input.count || inputStart >= Serial16550.inputCapacity {
                input.removeFirst(inputStart)
                inputStart = 0
            }
            return byte
        }
    }

    let registers = Mutex(Registers())
    private let interrupt: any InterruptLine
    private let output: @Sendable (UInt8) -> Void

    /// - Parameters:
    ///   - interrupt: the IRQ line (COM1: 4).
    ///   - output: receives each byte the guest transmits.
    public init(interrupt: any InterruptLine, output: @escaping @Sendable (UInt8) -> Void) {
        self.interrupt = interrupt
        self.output = output
    }

    /// Queues host input for the guest; returns how many bytes fit (the rest must be retried).
    public func receive(_ bytes: some Collection<UInt8>) -> Int {
        let (accepted, raise) = registers.withLock { r -> (Int, Bool) in
            let room = max(0, Self.inputCapacity - r.inputCount)
            let accepted = min(room, bytes.count)
            r.input.append(contentsOf: bytes.prefix(accepted))
            return (accepted, accepted > 0 && r.pendingInterrupt != nil)
        }
        if raise { signalInterrupt() }
        return accepted
    }

    public func read(offset: UInt16, size: Int) -> UInt32 {
        let (value, raise) = registers.withLock { r -> (UInt8, Bool) in
            switch offset {
            case 0 where r.divisorLatchAccess: return (r.divisorLow, false)
            case 0:
                let byte = r.popInput()
                return (byte, r.pendingInterrupt != nil)
            case 1 where r.divisorLatchAccess: return (r.divisorHigh, false)
            case 1: return (r.interruptEnable, false)
            case 2:
                let fifoBits: UInt8 = r.fifoControl & 0x01 != 0 ? 0xC0 : 0
                guard let pending = r.pendingInterrupt else { return (0x01 | fifoBits, false) }
                if pending == 0x02 { r.transmitterEmptyPending = false }
                return (pending | fifoBits, false)
            case 3: return (r.lineControl, false)
            case 4: return (r.modemControl, false)
            case 5:
                // Transmitter holding register and shift register are always empty.
                return (0x60 | (r.inputCount > 0 ? 0x01 : 0), false)
            case 6:
                if r.loopback {
                    let m = r.modemControl
                    let status = ((m & 0x01) << 5) | ((m & 0x02) << 3) | ((m & 0x04) << 4) | ((m & 0x08) << 4)
                    return (status, false)
                }
                return (0xB0, false)  // carrier, data set ready, clear to send
            case 7: return (r.scratch, false)
            default: return (0xff, false)
            }
        }
        if raise { signalInterrupt() }
        return UInt32(value)
    }

    public func write(offset: UInt16, size: Int, value: UInt32) {
        let byte = UInt8(truncatingIfNeeded: value)
        var transmit: UInt8?
        let raise = registers.withLock { r -> Bool in
            switch offset {
            case 0 where r.divisorLatchAccess: r.divisorLow = byte
            case 0:
                if r.loopback {
                    if r.inputCount < Self.inputCapacity { r.input.append(byte) }
                } else {
                    transmit = byte
                }
                r.transmitterEmptyPending = true
            case 1 where r.divisorLatchAccess: r.divisorHigh = byte
            case 1:
                let enablingTransmitInterrupt = byte & 0x02 != 0 && r.interruptEnable & 0x02 == 0
                r.interruptEnable = byte & 0x0f
                if enablingTransmitInterrupt { r.transmitterEmptyPending = true }
            case 2:
                r.fifoControl = byte
                if byte & 0x02 != 0 {
                    r.input.removeAll(keepingCapacity: true)
                    r.inputStart = 0
                }
            case 3: r.lineControl = byte
            case 4: r.modemControl = byte & 0x1f
            case 7: r.scratch = byte
            default: break
            }
            return r.pendingInterrupt != nil
        }
        if let transmit { output(transmit) }
        if raise { signalInterrupt() }
    }

    /// The ISA line is edge-triggered: each new event is one pulse. OUT2 gates the line to
    /// the interrupt controller, as on PC hardware.
    private func signalInterrupt() {
        let gated = registers.withLock { $0.modemControl & 0x08 == 0 }
        if !gated { interrupt.pulse() }
    }
}
