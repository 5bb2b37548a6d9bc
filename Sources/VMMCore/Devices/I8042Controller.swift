import Synchronization

/// The PS/2 controller, reduced to what guests need without a keyboard: its status
/// register, the command byte, and the CPU reset line (command 0xFE) that reboots a PC.
public final class I8042Controller: PortIODevice {
    public static let dataPort: UInt16 = 0x60
    public static let commandPort: UInt16 = 0x64
    private static let resetCommand: UInt8 = 0xFE

    struct State {
        var commandByte: UInt8 = 0x00
        var pendingCommand: UInt8?
        var output: UInt8?
    }

    let state = Mutex(State())
    private let exitLatch: MachineExitLatch

    public init(exitLatch: MachineExitLatch) { self.exitLatch = exitLatch }

    /// Registered at 0x60 with a count of 5, so offset 4 is the command/status port.
    public func read(offset: UInt16, size: Int) -> UInt32 {
        state.withLock { s in
            switch offset {
            case 0:
                defer { s.output = nil }
                return UInt32(s.output ?? 0)
            case 4:
                // Bit 0: output buffer full; bit 2: system flag (self-test passed).
                return 0x04 | (s.output != nil ? 0x01 : 0)
            default:
                return 0xff
            }
        }
    }

    public func write(offset: UInt16, size: Int, value: UInt32) {
        let byte = UInt8(truncatingIfNeeded: value)
        let reset = state.withLock { s -> Bool in
            switch offset {
            case 4:
                switch byte {
                case Self.resetCommand: return true
                case 0x20: s.output = s.commandByte
                case 0x60, 0xD1: s.pendingCommand = byte
                case 0xAA: s.output = 0x55  // controller self-test passed
                case 0xAB: s.output = 0x00  // port test passed
                default: break
                }
            case 0:
                if s.pendingCommand == 0x60 { s.commandByte = byte }
                // Output port write with the reset bit (bit 0) low resets the CPU.
                if s.pendingCommand == 0xD1 && byte & 0x01 == 0 { return true }
                s.pendingCommand = nil
            default: break
            }
            return false
        }
        if reset { exitLatch.report(.reset) }
    }
}
