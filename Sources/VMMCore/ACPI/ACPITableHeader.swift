/// The 36-byte System Description Table Header that starts every table but the RSDP
/// and FACS.
enum ACPITableHeader {
    static let size = 36
    static let oemID = "VMMSWF"
    static let oemTableID = "VMMSWIFT"
    static let oemRevision: UInt32 = 1
    static let creatorID = "VMMS"
    static let creatorRevision: UInt32 = 1

    private static let lengthOffset = 4
    private static let checksumOffset = 9

    /// Returns `body` preceded by a header whose length and checksum cover both.
    static func table(signature: String, revision: UInt8, body: [UInt8]) -> [UInt8] {
        precondition(signature.utf8.count == 4)
        var table = ACPIByteBuffer()
        table.append(ascii: signature, width: 4)
        table.append(UInt32(size + body.count))
        table.append(revision)
        table.append(UInt8(0))  // checksum, set below
        table.append(ascii: oemID, width: 6)
        table.append(ascii: oemTableID, width: 8)
        table.append(oemRevision)
        table.append(ascii: creatorID, width: 4)
        table.append(creatorRevision)
        table.append(body)
        table.setChecksum(at: checksumOffset, covering: 0..<table.count)
        return table.bytes
    }
}
