extension MSIXTable {
    private static let functionMaskBit: UInt8 = 1 << 6  // bit 14 of Message Control
    private static let enableBit: UInt8 = 1 << 7  // bit 15

    /// The MSI-X capability (ID 0x11) describing this table: the table at `tableOffset` and
    /// the pending bit array at `pendingBitArrayOffset` in BAR `bar` (both 8-byte aligned).
    /// Message Control reads the live Enable and Function Mask bits and accepts writes to them.
    public func capability(bar: Int, tableOffset: UInt32, pendingBitArrayOffset: UInt32) -> PCICapability {
        precondition((0...5).contains(bar), "BAR index out of range")
        precondition(tableOffset % 8 == 0 && pendingBitArrayOffset % 8 == 0, "MSI-X structures are 8-byte aligned")
        func littleEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        let locations = littleEndian(tableOffset | UInt32(bar)) + littleEndian(pendingBitArrayOffset | UInt32(bar))
        let initialControl = UInt16(vectorCount - 1)
        return PCICapability(
            id: PCICapability.msixID,
            body: [UInt8(truncatingIfNeeded: initialControl), UInt8(initialControl >> 8)] + locations,
            read: { [self] offset, size in
                // Offsets count from the capability's ID byte; the body starts at 2.
                let control = messageControl
                let body = [UInt8(truncatingIfNeeded: control), UInt8(control >> 8)] + locations
                guard offset >= 2, offset - 2 + size <= body.count else { return nil }
                return (0..<size).reduce(UInt32(0)) { $0 | UInt32(body[offset - 2 + $1]) << (8 * UInt32($1)) }
            },
            write: { [self] offset, size, value in
                // Only the upper byte of Message Control (offset 3) has writable bits.
                guard offset <= 3, 3 < offset + size else { return }
                let byte = UInt8(truncatingIfNeeded: value >> (8 * UInt32(3 - offset)))
                setMessageControl(enabled: byte & Self.enableBit != 0, functionMasked: byte & Self.functionMaskBit != 0)
            })
    }
}
