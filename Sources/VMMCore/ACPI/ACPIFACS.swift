/// The Firmware ACPI Control Structure.
///
/// Nothing in it is used (no S3, no global lock users), but Linux warns when a
/// non-hardware-reduced platform has none.
enum ACPIFACS {
    static let size = 64
    /// Required by the specification.
    static let alignment = 64

    static func encode() -> [UInt8] {
        var facs = ACPIByteBuffer()
        facs.append(ascii: "FACS", width: 4)
        facs.append(UInt32(size))
        facs.appendZeros(4 + 4 + 4 + 4 + 8)  // hardware signature, waking vectors, global lock, flags
        facs.append(UInt8(2))  // version
        facs.appendZeros(size - facs.count)  // reserved, OSPM flags
        return facs.bytes
    }
}
