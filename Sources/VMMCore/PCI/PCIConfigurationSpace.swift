import Synchronization

/// The 4 KiB configuration space of a type-0 PCI function: identity, command register,
/// memory BARs with the sizing protocol, interrupt line/pin and a capability list.
///
/// BARs stay where the bus put them: a write other than the all-ones sizing probe reads
/// back the assigned address, because MMIO routing is fixed when the machine is built.
/// (Linux keeps addresses that lie inside the host bridge's windows, so it never moves them.)
public final class PCIConfigurationSpace: Sendable {
    public static let size = 4096
    public static let capabilitiesStart = 0x40

    private enum Register {
        static let command = 0x04
        static let status = 0x06
        static let cacheLineSize = 0x0c
        static let bars = 0x10
        static let capabilitiesPointer = 0x34
        static let interruptLine = 0x3c
        static let interruptPin = 0x3d
    }

    private enum Command {
        static let memorySpace: UInt16 = 1 << 1
        static let busMaster: UInt16 = 1 << 2
        static let interruptDisable: UInt16 = 1 << 10
        static let writable: UInt16 = memorySpace | busMaster | interruptDisable
    }

    private struct State {
        var bytes: [UInt8]
        var barAddresses: [UInt64?]
        /// BARs whose next read returns the size mask (after an all-ones write).
        var sizing: Set<Int> = []
    }

    private struct CapabilityPlacement: Sendable {
        let start: Int
        let end: Int
        let capability: PCICapability
    }

    public let bars: [PCIBar]
    private let capabilities: [CapabilityPlacement]
    private let state: Mutex<State>

    /// `interruptPin` is 0 for none or 1...4 for INTA#...INTD#.
    public init(identity: PCIIdentity, bars: [PCIBar], capabilities: [PCICapability], interruptPin: UInt8 = 1) {
        var bytes = [UInt8](repeating: 0, count: Self.size)
        func put<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + MemoryLayout<T>.size, with: $0) }
        }
        put(identity.vendorID, 0x00)
        put(identity.deviceID, 0x02)
        put(identity.revisionID, 0x08)
        put(UInt8(identity.classCode & 0xff), 0x09)
        put(UInt16(identity.classCode >> 8), 0x0a)
        put(identity.subsystemVendorID, 0x2c)
        put(identity.subsystemID, 0x2e)
        put(interruptPin, Register.interruptPin)

        var placements: [CapabilityPlacement] = []
        var offset = Self.capabilitiesStart
        for capability in capabilities {
            let end = offset + 2 + capability.body.count
            precondition(end <= 0x100, "capabilities overflow the 256-byte configuration header")
            placements.append(.init(start: offset, end: end, capability: capability))
            offset = (end + 3) & ~3
        }
        for (index, placement) in placements.enumerated() {
            bytes[placement.start] = placement.capability.id
            bytes[placement.start + 1] = index + 1 < placements.count ? UInt8(placements[index + 1].start) : 0
            bytes.replaceSubrange(placement.start + 2..<placement.end, with: placement.capability.body)
        }
        if let first = placements.first {
            put(UInt16(1 << 4), Register.status)
            put(UInt8(first.start), Register.capabilitiesPointer)
        }
        for bar in bars {
            precondition(bar.index >= 0 && bar.index + (bar.is64Bit ? 1 : 0) <= 5, "BAR index out of range")
            precondition(bar.size >= 4096 && bar.size & (bar.size - 1) == 0, "BAR size must be a power of two >= 4 KiB")
        }
        self.bars = bars
        self.capabilities = placements
        self.state = Mutex(State(bytes: bytes, barAddresses: Array(repeating: nil, count: 6)))
    }

    /// Places BAR `index` at `address`; the bus calls this once, before the guest runs.
    public func assign(bar index: Int, address: UInt64) {
        guard let bar = bars.first(where: { $0.index == index }) else { preconditionFailure("no BAR \(index)") }
        precondition(address % bar.size == 0, "BAR \(index) must be aligned to its size")
        state.withLock { $0.barAddresses[index] = address }
    }

    public func barAddress(_ index: Int) -> UInt64? { state.withLock { $0.barAddresses[index] } }

    public var isBusMasterEnabled: Bool { command & Command.busMaster != 0 }
    public var isInterruptDisabled: Bool { command & Command.interruptDisable != 0 }

    private var command: UInt16 {
        state.withLock { UInt16($0.bytes[Register.command]) | UInt16($0.bytes[Register.command + 1]) << 8 }
    }

    /// Reads `size` (1, 2 or 4) bytes at `offset`; out-of-range reads give all-ones.
    public func read(offset: Int, size: Int) -> UInt32 {
        guard offset >= 0, offset + size <= Self.size, [1, 2, 4].contains(size) else { return .max }
        if let placement = capabilities.first(where: { offset >= $0.start && offset < $0.end }),
           let value = placement.capability.read?(offset - placement.start, size)
        {
            return value
        }
        let dword = state.withLock { state in
            let base = offset & ~3
            if base >= Register.bars && base < Register.bars + 24 { return barRegister((base - Register.bars) / 4, state) }
            return (0..<4).reduce(UInt32(0)) { $0 | UInt32(state.bytes[base + $1]) << (8 * $1) }
        }
        let shifted = dword >> (8 * UInt32(offset & 3))
        return size == 4 ? shifted : shifted & ((1 << (8 * UInt32(size))) - 1)
    }

    /// Writes `size` bytes at `offset`; read-only bits and unknown registers ignore writes.
    public func write(offset: Int, size: Int, value: UInt32) {
        guard offset >= 0, offset + size <= Self.size, [1, 2, 4].contains(size) else { return }
        if let placement = capabilities.first(where: { offset >= $0.start && offset < $0.end }) {
            placement.capability.write?(offset - placement.start, size, value)
            return
        }
        state.withLock { state in
            switch offset {
            case Register.bars..<(Register.bars + 24):
                guard size == 4, offset & 3 == 0 else { return }
                let index = (offset - Register.bars) / 4
                if value == .max { state.sizing.insert(index) } else { state.sizing.remove(index) }
            case Register.command where size >= 2:
                let command = UInt16(truncatingIfNeeded: value) & Command.writable
                state.bytes[Register.command] = UInt8(command & 0xff)
                state.bytes[Register.command + 1] = UInt8(command >> 8)
            case Register.cacheLineSize where size == 1, Register.interruptLine:
                // A wider write at 0x3c reaches the read-only pin byte too: keep only the line.
                state.bytes[offset] = UInt8(truncatingIfNeeded: value)
            default:
                break
            }
        }
    }

    /// The BAR register `slot` (0...5) as the guest reads it.
    private func barRegister(_ slot: Int, _ state: State) -> UInt32 {
        if let bar = bars.first(where: { $0.index == slot }) {
            let flags: UInt32 = (bar.is64Bit ? 0b100 : 0) | (bar.isPrefetchable ? 0b1000 : 0)
            let value = state.sizing.contains(slot) ? ~(bar.size - 1) : state.barAddresses[slot] ?? 0
            return UInt32(truncatingIfNeeded: value) & ~0xf | flags
        }
        if let bar = bars.first(where: { $0.is64Bit && $0.index + 1 == slot }) {
            let value = state.sizing.contains(slot) ? ~(bar.size - 1) : state.barAddresses[bar.index] ?? 0
            return UInt32(truncatingIfNeeded: value >> 32)
        }
        return 0
    }
}
