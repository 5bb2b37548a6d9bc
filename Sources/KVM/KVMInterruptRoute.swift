import CKVM

/// One GSI → irqchip pin route of the in-kernel interrupt controller.
public struct KVMInterruptRoute: Equatable, Sendable {
    public enum Chip: UInt32, Sendable {
        case primaryPIC = 0
        case secondaryPIC = 1
        case ioapic = 2
    }

    public let gsi: UInt32
    public let chip: Chip
    public let pin: UInt32

    public init(gsi: UInt32, chip: Chip, pin: UInt32) {
        self.gsi = gsi
        self.chip = chip
        self.pin = pin
    }
}
