/// The PCI Express memory-mapped configuration table (PCI Firmware Specification 3.2
/// §4.1.2): one ECAM allocation for segment 0.
enum ACPIMCFG {
    static let signature = "MCFG"
    private static let revision: UInt8 = 1
    static let size = ACPITableHeader.size + 8 + 16

    static func encode(bridge: ACPIPlatform.PCIHostBridge) -> [UInt8] {
        var body = ACPIByteBuffer()
        body.appendZeros(8)
        body.append(bridge.configurationWindowAddress)
        body.append(UInt16(0))  // PCI segment group
        body.append(bridge.busNumbers.lowerBound)
        body.append(bridge.busNumbers.upperBound)
        body.appendZeros(4)
        return ACPITableHeader.table(signature: signature, revision: revision, body: body.bytes)
    }
}
