/// A 12-byte Generic Address Structure naming a register block in I/O space.
struct ACPIGenericAddress {
    static let size = 12
    private static let systemIO: UInt8 = 1

    /// Access size encoding: 1 byte, 2 word, 3 dword.
    var accessSize: UInt8
    var bitWidth: UInt8
    var port: UInt16

    /// An all-zero structure: the register block does not exist.
    static let unused = ACPIGenericAddress(accessSize: 0, bitWidth: 0, port: 0)

    static func io(port: UInt16, bytes: Int, accessBytes: Int) -> ACPIGenericAddress {
        ACPIGenericAddress(
            accessSize: UInt8(accessBytes.trailingZeroBitCount + 1),
            bitWidth: UInt8(bytes * 8),
            port: port
        )
    }

    func encode(into buffer: inout ACPIByteBuffer) {
        guard bitWidth != 0 else {
            buffer.appendZeros(Self.size)
            return
        }
        buffer.append(Self.systemIO)
        buffer.append(bitWidth)
        buffer.append(UInt8(0))  // bit offset
        buffer.append(accessSize)
        buffer.append(UInt64(port))
    }
}
