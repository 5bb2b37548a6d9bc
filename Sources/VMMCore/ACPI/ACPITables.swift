/// The ACPI tables of an x86 virtual machine, laid out as one blob for guest memory.
///
/// The blob starts with the RSDP, so guests that scan 0xE0000–0xFFFFF for it (Multiboot
/// kernels) find it when the blob is placed there; the tables after it use absolute
/// guest-physical addresses computed from the base address.
public struct ACPITables: Sendable {
    /// Where one table sits in `bytes`.
    public struct Table: Sendable, Equatable {
        /// The table's signature, or "RSDP" for the root pointer (whose own signature is
        /// "RSD PTR ").
        public let signature: String
        public let offset: Int
        public let length: Int
    }

    /// Guest-physical address of the RSDP: the base address the tables were built for.
    public let rsdpAddress: UInt64
    /// All tables, to be copied to `rsdpAddress`.
    public let bytes: [UInt8]
    /// Every table in `bytes`, in order: RSDP, XSDT, RSDT, FACP, FACS, DSDT, APIC, and MCFG
    /// when the platform has a PCI host bridge.
    public let tables: [Table]

    /// Returns the table with `signature` ("RSDP" for the root pointer), if built.
    public func table(_ signature: String) -> Table? {
        tables.first { $0.signature == signature }
    }

    /// Lays out the tables describing `platform` for `baseAddress`.
    ///
    /// `baseAddress` must be 16-byte aligned and the blob must end below 4 GiB, because
    /// the RSDT and the FADT hold 32-bit addresses.
    /// The most vCPUs the tables describe; the blob then still fits the BIOS area.
    public static let maximumCPUCount = 1024

    public static func build(_ platform: ACPIPlatform, at baseAddress: UInt64) -> ACPITables {
        precondition((1...maximumCPUCount).contains(platform.cpuCount), "cpuCount must be 1...\(maximumCPUCount)")
        precondition(baseAddress % UInt64(ACPIRSDP.alignment) == 0, "the RSDP must be 16-byte aligned")

        // These two do not depend on any address, so their sizes are known up front.
        let dsdtBytes = ACPIDSDT.encode(platform: platform)
        let madtBytes = ACPIMADT.encode(platform: platform)
        let mcfgBytes = platform.pciHostBridge.map(ACPIMCFG.encode)
        // FADT, MADT (and MCFG); the FADT leads to the DSDT and FACS.
        let rootEntryCount = mcfgBytes == nil ? 2 : 3

        var tables: [Table] = []
        var end = 0
        func place(_ signature: String, length: Int, alignment: Int = 16) -> Table {
            let misalignment = Int((baseAddress + UInt64(end)) % UInt64(alignment))
            let offset = end + (misalignment == 0 ? 0 : alignment - misalignment)
            let table = Table(signature: signature, offset: offset, length: length)
            tables.append(table)
            end = offset + length
            return table
        }
        let rsdp = place("RSDP", length: ACPIRSDP.size)
        let xsdt = place("XSDT", length: ACPIRootTable.xsdtSize(entries: rootEntryCount))
        let rsdt = place("RSDT", length: ACPIRootTable.rsdtSize(entries: rootEntryCount))
        let fadt = place(ACPIFADT.signature, length: ACPIFADT.size)
        let facs = place("FACS", length: ACPIFACS.size, alignment: ACPIFACS.alignment)
        let dsdt = place(ACPIDSDT.signature, length: dsdtBytes.count)
        let madt = place(ACPIMADT.signature, length: madtBytes.count)
        let mcfg = mcfgBytes.map { place(ACPIMCFG.signature, length: $0.count) }
        precondition(baseAddress + UInt64(end) <= UInt64(UInt32.max), "ACPI tables must lie below 4 GiB")

        func address(_ table: Table) -> UInt64 { baseAddress + UInt64(table.offset) }
        func address32(_ table: Table) -> UInt32 { UInt32(address(table)) }

        var bytes = [UInt8](repeating: 0, count: end)
        func store(_ encoded: [UInt8], in table: Table) {
            assert(encoded.count == table.length)
            bytes.replaceSubrange(table.offset..<table.offset + table.length, with: encoded)
        }
        store(ACPIRSDP.encode(rsdtAddress: address32(rsdt), xsdtAddress: address(xsdt)), in: rsdp)
        let rootEntries = [fadt, madt] + (mcfg.map { [$0] } ?? [])
        store(ACPIRootTable.xsdt(pointingAt: rootEntries.map(address)), in: xsdt)
        store(ACPIRootTable.rsdt(pointingAt: rootEntries.map(address32)), in: rsdt)
        store(ACPIFADT.encode(platform: platform, facsAddress: address32(facs), dsdtAddress: address32(dsdt)), in: fadt)
        store(ACPIFACS.encode(), in: facs)
        store(dsdtBytes, in: dsdt)
        store(madtBytes, in: madt)
        if let mcfg, let mcfgBytes { store(mcfgBytes, in: mcfg) }

        return ACPITables(rsdpAddress: baseAddress, bytes: bytes, tables: tables)
    }
}
