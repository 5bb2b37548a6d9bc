import CKVM

/// One entry of the GSI routing table: a GSI routed to an irqchip pin or to an MSI message.
public struct KVMInterruptRoute: Equatable, Sendable {
    public enum Chip: UInt32, Sendable {
        case primaryPIC = 0
        case secondaryPIC = 1
        case ioapic = 2
    }

    /// Where an interrupt on the GSI goes.
    public enum Target: Equatable, Sendable {
        /// An input pin of the in-kernel PIC pair or IOAPIC.
        case irqchip(Chip, pin: UInt32)
        /// A message-signalled interrupt: the address and data a device would write.
        case msi(address: UInt64, data: UInt32)
    }

    public let gsi: UInt32
    public let target: Target

    public init(gsi: UInt32, target: Target) {
        self.gsi = gsi
        self.target = target
    }

    /// A route to irqchip `chip`, pin `pin`.
    public init(gsi: UInt32, chip: Chip, pin: UInt32) {
        self.init(gsi: gsi, target: .irqchip(chip, pin: pin))
    }
}
