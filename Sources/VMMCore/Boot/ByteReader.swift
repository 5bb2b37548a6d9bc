/// Little-endian reads from a byte array that return nil instead of trapping out of bounds.
struct ByteReader {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func integer<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T? {
        guard offset >= 0, offset <= bytes.count - MemoryLayout<T>.size else { return nil }
        return bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    func u8(_ offset: Int) -> UInt8? { integer(UInt8.self, at: offset) }
    func u16(_ offset: Int) -> UInt16? { integer(UInt16.self, at: offset) }
    func u32(_ offset: Int) -> UInt32? { integer(UInt32.self, at: offset) }
    func u64(_ offset: Int) -> UInt64? { integer(UInt64.self, at: offset) }
}

/// Builds a little-endian structure byte by byte.
struct ByteWriter {
    private(set) var bytes: [UInt8]

    init(size: Int) { bytes = [UInt8](repeating: 0, count: size) }

    mutating func set<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { source in
            for (index, byte) in source.enumerated() { bytes[offset + index] = byte }
        }
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}
