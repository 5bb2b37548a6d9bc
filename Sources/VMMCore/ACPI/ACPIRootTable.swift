/// The XSDT and RSDT: lists of the addresses of every table not reached otherwise.
///
/// ACPI 2.0+ guests follow the XSDT; the RSDT is kept for 32-bit test kernels that only
/// know ACPI 1.0.
enum ACPIRootTable {
    static func xsdtSize(entries: Int) -> Int { ACPITableHeader.size + 8 * entries }
    static func rsdtSize(entries: Int) -> Int { ACPITableHeader.size + 4 * entries }

    static func xsdt(pointingAt addresses: [UInt64]) -> [UInt8] {
        var body = ACPIByteBuffer()
        for address in addresses { body.append(address) }
        return ACPITableHeader.table(signature: "XSDT", revision: 1, body: body.bytes)
    }

    static func rsdt(pointingAt addresses: [UInt32]) -> [UInt8] {
        var body = ACPIByteBuffer()
        for address in addresses { body.append(address) }
        return ACPITableHeader.table(signature: "RSDT", revision: 1, body: body.bytes)
    }
}
