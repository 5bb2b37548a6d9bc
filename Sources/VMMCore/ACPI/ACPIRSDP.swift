/// The Root System Description Pointer (ACPI 2.0+ layout, 36 bytes).
enum ACPIRSDP {
    static let size = 36
    /// Guests scanning low memory only look at 16-byte boundaries.
    static let alignment = 16

    static func encode(rsdtAddress: UInt32, xsdtAddress: UInt64) -> [UInt8] {
        var rsdp = ACPIByteBuffer()
        rsdp.append(ascii: "RSD PTR ", width: 8)
        rsdp.append(UInt8(0))  // checksum of the ACPI 1.0 part, set below
        rsdp.append(ascii: ACPITableHeader.oemID, width: 6)
        rsdp.append(UInt8(2))  // revision: XSDT present
        rsdp.append(rsdtAddress)
        rsdp.append(UInt32(size))
        rsdp.append(xsdtAddress)
        rsdp.append(UInt8(0))  // extended checksum, set below
        rsdp.appendZeros(3)
        rsdp.setChecksum(at: 8, covering: 0..<20)
        rsdp.setChecksum(at: 32, covering: 0..<size)
        return rsdp.bytes
    }
}
