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

    struct State {
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
    let state: Mutex<State>

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

    /// Reads `size` (1, 2 or 4) naturally aligned bytes at `offset`; other reads give all-ones.
    ///
    /// A read inside a capability's body (after its ID and next-pointer bytes) goes to the
    /// capability's `read` hook first; one that also covers other bytes is put together
    /// byte by byte, asking the hooks for single bytes.
    public func read(offset: Int, size: Int) -> UInt32 {
        guard Self.isValidAccess(offset: offset, size: size) else { return .max }
        if let placement = capabilities.first(where: { offset >= $0.start + 2 && offset + size <= $0.end }),
           let value = placement.capability.read?(offset - placement.start, size)
        {
            return size == 4 ? value : value & ((1 << (8 * UInt32(size))) - 1)
        }
        return (0..<size).reduce(UInt32(0)) { value, index in
            value | UInt32(readByte(offset + index)) << (8 * UInt32(index))
        }
    }

    /// Writes `size` naturally aligned bytes at `offset`. A write that starts in a capability
    /// goes to its `write` hook; elsewhere only the writable bits of the command register,
    /// cache line size, interrupt line and BARs (dword writes) take effect.
    public func write(offset: Int, size: Int, value: UInt32) {
        guard Self.isValidAccess(offset: offset, size: size) else { return }
        if let placement = capabilities.first(where: { offset >= $0.start && offset < $0.end }) {
            placement.capability.write?(offset - placement.start, size, value)
            return
        }
        state.withLock { state in
            if offset >= Register.bars && offset < Register.bars + 24 {
                guard size == 4 else { return }
                let index = (offset - Register.bars) / 4
                if value == .max { state.sizing.insert(index) } else { state.sizing.remove(index) }
                return
            }
            for index in 0..<size {
                let at = offset + index
                let mask = Self.writableBits(at)
                let byte = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index)))
                state.bytes[at] = state.bytes[at] & ~mask | byte & mask
            }
        }
    }

    private static func isValidAccess(offset: Int, size: Int) -> Bool {
        [1, 2, 4].contains(size) && offset >= 0 && offset + size <= Self.size && offset % size == 0
    }

    /// The bits of the byte at `offset` (outside the BARs) that the guest may change.
    private static func writableBits(_ offset: Int) -> UInt8 {
        switch offset {
        case Register.command: UInt8(Command.writable & 0xff)
        case Register.command + 1: UInt8(Command.writable >> 8)
        case Register.cacheLineSize, Register.interruptLine: 0xff
        default: 0
        }
    }

    private func readByte(_ offset: Int) -> UInt8 {
        if let placement = capabilities.first(where: { offset >= $0.start + 2 && offset < $0.end }),
           let value = placement.capability.read?(offset - placement.start, 1)
        {
            return UInt8(truncatingIfNeeded: value)
        }
        return state.withLock { state in
            guard offset >= Register.bars && offset < Register.bars + 24 else { return state.bytes[offset] }
            let register = barRegister((offset - Register.bars) / 4, state)
            return UInt8(truncatingIfNeeded: register >> (8 * UInt32(offset & 3)))
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
