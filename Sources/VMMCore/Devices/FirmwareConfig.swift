import Synchronization

/// The subset of QEMU's fw_cfg that test kernels use: a 16-bit selector at 0x510 and a
/// byte-wise little-endian data port at 0x511. Unknown keys read as zeros.
public final class FirmwareConfig: PortIODevice {
    public static let port: UInt16 = 0x510
    public static let portCount: UInt16 = 2
    public static let ramSizeKey: UInt16 = 0x03
    public static let cpuCountKey: UInt16 = 0x05

    struct Cursor {
        var key: UInt16 = 0
        var offset = 0
    }

    private let items: [UInt16: [UInt8]]
    let cursor = Mutex(Cursor())

    public init(ramSize: UInt64, cpuCount: UInt16) {
        items = [
            Self.ramSizeKey: withUnsafeBytes(of: ramSize.littleEndian, Array.init),
            Self.cpuCountKey: withUnsafeBytes(of: cpuCount.littleEndian, Array.init),
        ]
    }

    public func read(offset: UInt16, size: Int) -> UInt32 {
        guard offset == 1 else { return 0 }
        return cursor.withLock { c in
            var value: UInt32 = 0
            // A wider read on the data port returns consecutive bytes, as QEMU does.
            for index in 0..<min(size, 4) {
                let byte = items[c.key].flatMap { c.offset < $0.count ? $0[c.offset] : nil } ?? 0
                value |= UInt32(byte) << (8 * index)
                c.offset += 1
            }
            return value
        }
    }

    public func write(offset: UInt16, size: Int, value: UInt32) {
        guard offset == 0 else { return }
        cursor.withLock { $0 = Cursor(key: UInt16(truncatingIfNeeded: value), offset: 0) }
    }
}
