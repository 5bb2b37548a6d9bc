/// Little-endian byte accumulation shared by the table encoders.
struct ACPIByteBuffer {
    private(set) var bytes: [UInt8] = []

    var count: Int { bytes.count }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ other: [UInt8]) {
        bytes.append(contentsOf: other)
    }

    /// Appends `text` as ASCII, space-padded (or truncated) to `width` bytes, which is how
    /// OEM ids and signatures are stored.
    mutating func append(ascii text: String, width: Int) {
        let utf8 = Array(text.utf8.prefix(width))
        precondition(utf8.allSatisfy { $0 < 0x80 }, "ACPI identifiers are ASCII: \(text)")
        bytes.append(contentsOf: utf8)
        bytes.append(contentsOf: repeatElement(0x20, count: width - utf8.count))
    }

    mutating func appendZeros(_ count: Int) {
        bytes.append(contentsOf: repeatElement(0, count: count))
    }

    mutating func set<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            bytes.replaceSubrange(offset..<offset + raw.count, with: raw)
        }
    }

    /// Stores at `offset` the byte that makes `range` sum to 0 modulo 256.
    mutating func setChecksum(at offset: Int, covering range: Range<Int>) {
        bytes[offset] = 0
        bytes[offset] = 0 &- Self.sum(bytes[range])
    }

    static func sum<C: Collection<UInt8>>(_ bytes: C) -> UInt8 {
        bytes.reduce(0, &+)
    }
}
