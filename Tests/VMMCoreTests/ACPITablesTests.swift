import Foundation
import Testing
import TestSupport

@testable import VMMCore

/// Where the VMM places the tables: the BIOS area Multiboot guests scan for the RSDP.
private let biosAreaBase: UInt64 = 0xe0000
private let biosAreaEnd: UInt64 = 0x10_0000
private let cpuCounts = [1, 2, 4, 255, 256, 1024]

@Suite struct ACPITablesTests {
    @Test(arguments: cpuCounts)
    func checksumsSumToZero(cpuCount: Int) throws {
        let tables = ACPITables.build(ACPIPlatform(cpuCount: cpuCount), at: biosAreaBase)
        for table in tables.tables where !["RSDP", "FACS"].contains(table.signature) {
            let bytes = tables.contents(of: table)
            #expect(bytes.sum == 0, "\(table.signature) checksum")
            #expect(String(decoding: bytes[0..<4], as: UTF8.self) == table.signature)
            #expect(Int(bytes.read(UInt32.self, at: 4)) == table.length, "\(table.signature) length")
            #expect(String(decoding: bytes[10..<16], as: UTF8.self) == "VMMSWF")
        }
        let rsdp = try #require(tables.table("RSDP"))
        let rsdpBytes = tables.contents(of: rsdp)
        #expect(rsdp.offset == 0 && tables.rsdpAddress == biosAreaBase)
        #expect(String(decoding: rsdpBytes[0..<8], as: UTF8.self) == "RSD PTR ")
        #expect(rsdpBytes[0..<20].sum == 0, "ACPI 1.0 checksum")
        #expect(rsdpBytes.sum == 0, "extended checksum")
        #expect(rsdpBytes[15] == 2)
        #expect(rsdpBytes.read(UInt32.self, at: 20) == 36)
    }

    @Test(arguments: cpuCounts)
    func rootTablesPointAtEveryOtherTable(cpuCount: Int) throws {
        let tables = ACPITables.build(ACPIPlatform(cpuCount: cpuCount), at: biosAreaBase)
        let rsdp = tables.contents(of: try #require(tables.table("RSDP")))
        let xsdt = try #require(tables.table("XSDT"))
        let rsdt = try #require(tables.table("RSDT"))
        #expect(rsdp.read(UInt64.self, at: 24) == tables.address(of: xsdt))
        #expect(UInt64(rsdp.read(UInt32.self, at: 16)) == tables.address(of: rsdt))

        // The FADT reaches the DSDT and FACS; the root tables must reach everything else.
        let expected = Set(
            tables.tables.filter { !["RSDP", "XSDT", "RSDT", "DSDT", "FACS"].contains($0.signature) }
                .map { tables.address(of: $0) })
        #expect(expected.count == 2)
        let xsdtBytes = tables.contents(of: xsdt)
        let xsdtEntries = stride(from: 36, to: xsdtBytes.count, by: 8).map { xsdtBytes.read(UInt64.self, at: $0) }
        #expect(Set(xsdtEntries) == expected && xsdtEntries.count == expected.count)
        let rsdtBytes = tables.contents(of: rsdt)
        let rsdtEntries = stride(from: 36, to: rsdtBytes.count, by: 4).map { UInt64(rsdtBytes.read(UInt32.self, at: $0)) }
        #expect(rsdtEntries == xsdtEntries)
    }

    @Test func fadtDescribesTheFixedHardware() throws {
        var platform = ACPIPlatform(cpuCount: 2)
        platform.sciInterrupt = 10
        let tables = ACPITables.build(platform, at: biosAreaBase)
        let fadt = tables.contents(of: try #require(tables.table("FACP")))
        let dsdt = tables.address(of: try #require(tables.table("DSDT")))
        let facs = tables.address(of: try #require(tables.table("FACS")))

        #expect(fadt.count == 276 && fadt[8] == 6)
        #expect(UInt64(fadt.read(UInt32.self, at: 40)) == dsdt && fadt.read(UInt64.self, at: 140) == dsdt)
        #expect(UInt64(fadt.read(UInt32.self, at: 36)) == facs && fadt.read(UInt64.self, at: 132) == facs)
        #expect(facs % 64 == 0)
        #expect(fadt.read(UInt16.self, at: 46) == 10, "SCI_INT")
        #expect(fadt.read(UInt32.self, at: 48) == 0, "SMI_CMD: always in ACPI mode")
        #expect(fadt.read(UInt32.self, at: 56) == 0x600 && fadt.read(UInt32.self, at: 64) == 0x604)
        #expect(fadt.read(UInt32.self, at: 76) == 0x608)
        #expect(Array(fadt[88..<92]) == [4, 2, 0, 4], "PM1_EVT_LEN, PM1_CNT_LEN, PM2_CNT_LEN, PM_TMR_LEN")
        #expect(fadt.read(UInt16.self, at: 109) == 1 << 2, "IAPC_BOOT_ARCH: VGA not present only")

        let flags = fadt.read(UInt32.self, at: 112)
        let wbinvd: UInt32 = 1 << 0, procC1: UInt32 = 1 << 2, powerButton: UInt32 = 1 << 4
        let sleepButton: UInt32 = 1 << 5, timerExt: UInt32 = 1 << 8, resetSupported: UInt32 = 1 << 10
        let hardwareReduced: UInt32 = 1 << 20
        #expect(flags == wbinvd | procC1 | sleepButton | timerExt | resetSupported)
        #expect(flags & (powerButton | hardwareReduced) == 0)

        #expect(Array(fadt[116..<120]) == [1, 8, 0, 1] && fadt.read(UInt64.self, at: 120) == 0x64, "RESET_REG")
        #expect(fadt[128] == 0xfe, "RESET_VALUE")
        // X_PM1a_EVT_BLK, X_PM1a_CNT_BLK, X_PM_TMR_BLK: SystemIO, bit width, offset, access size.
        #expect(Array(fadt[148..<152]) == [1, 32, 0, 2] && fadt.read(UInt64.self, at: 152) == 0x600)
        #expect(Array(fadt[172..<176]) == [1, 16, 0, 2] && fadt.read(UInt64.self, at: 176) == 0x604)
        #expect(Array(fadt[208..<212]) == [1, 32, 0, 3] && fadt.read(UInt64.self, at: 212) == 0x608)
    }

    @Test(arguments: cpuCounts)
    func madtHasOneEntryPerCPU(cpuCount: Int) throws {
        let tables = ACPITables.build(ACPIPlatform(cpuCount: cpuCount), at: biosAreaBase)
        let madt = tables.contents(of: try #require(tables.table("APIC")))
        #expect(madt.read(UInt32.self, at: 36) == 0xfee0_0000 && madt.read(UInt32.self, at: 40) == 1)

        var xapicIDs: [Int] = [], x2apicIDs: [Int] = []
        var ioapics: [[UInt8]] = [], overrides: [[UInt8]] = [], nmis: [[UInt8]] = [], x2nmis: [[UInt8]] = []
        var offset = 44
        while offset < madt.count {
            let entry = Array(madt[offset..<offset + Int(madt[offset + 1])])
            switch entry[0] {
            case 0:
                #expect(entry.count == 8 && entry[2] == entry[3] && entry.read(UInt32.self, at: 4) == 1)
                xapicIDs.append(Int(entry[3]))
            case 9:
                #expect(entry.count == 16 && entry.read(UInt32.self, at: 8) == 1)
                #expect(entry.read(UInt32.self, at: 12) == entry.read(UInt32.self, at: 4))
                x2apicIDs.append(Int(entry.read(UInt32.self, at: 4)))
            case 1: ioapics.append(entry)
            case 2: overrides.append(entry)
            case 4: nmis.append(entry)
            case 10: x2nmis.append(entry)
            default: Issue.record("unexpected MADT entry type \(entry[0])")
            }
            offset += entry.count
        }
        #expect(offset == madt.count)
        #expect(xapicIDs == Array(0..<min(cpuCount, 255)))
        #expect(x2apicIDs == Array(255..<max(cpuCount, 255)))
        #expect(ioapics == [[1, 12, 0, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0]])
        #expect(overrides == [[2, 10, 0, 0, 2, 0, 0, 0, 0, 0], [2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0]])
        #expect(nmis == [[4, 6, 0xff, 0, 0, 1]])
        #expect(x2nmis == (cpuCount > 255 ? [[10, 12, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0]] : []))

        #expect(biosAreaBase + UInt64(tables.bytes.count) <= biosAreaEnd, "blob must fit in 0xE0000-0xFFFFF")
    }

    @Test func tablesDoNotOverlap() {
        let tables = ACPITables.build(ACPIPlatform(cpuCount: 1024), at: biosAreaBase)
        #expect(tables.tables.map(\.signature) == ["RSDP", "XSDT", "RSDT", "FACP", "FACS", "DSDT", "APIC"])
        for (previous, next) in zip(tables.tables, tables.tables.dropFirst()) {
            #expect(previous.offset + previous.length <= next.offset)
        }
        #expect(tables.tables.last.map { $0.offset + $0.length } == tables.bytes.count)
    }

    // MARK: PCI host bridge

    static let interruptSlots = 1..<4

    static func pciPlatform(cpuCount: Int) -> ACPIPlatform {
        var platform = ACPIPlatform(cpuCount: cpuCount)
        platform.pciHostBridge = .init(
            configurationWindowAddress: 0xe000_0000, busNumbers: 0...0, memoryWindow: 0xc000_0000..<0xe000_0000,
            interruptSlots: interruptSlots)
        return platform
    }

    @Test(arguments: [1, 1024])
    func mcfgDescribesTheConfigurationWindow(cpuCount: Int) throws {
        let tables = ACPITables.build(Self.pciPlatform(cpuCount: cpuCount), at: biosAreaBase)
        #expect(tables.tables.map(\.signature) == ["RSDP", "XSDT", "RSDT", "FACP", "FACS", "DSDT", "APIC", "MCFG"])
        let mcfgTable = try #require(tables.table("MCFG"))
        let mcfg = tables.contents(of: mcfgTable)
        #expect(mcfg.count == 60 && mcfg[8] == 1 && mcfg.sum == 0)
        #expect(mcfg[36..<44].allSatisfy { $0 == 0 }, "reserved")
        #expect(mcfg.read(UInt64.self, at: 44) == 0xe000_0000)
        #expect(mcfg.read(UInt16.self, at: 52) == 0, "segment")
        #expect(mcfg[54] == 0 && mcfg[55] == 0, "buses 0-0")

        let xsdt = tables.contents(of: try #require(tables.table("XSDT")))
        let entries = stride(from: 36, to: xsdt.count, by: 8).map { xsdt.read(UInt64.self, at: $0) }
        #expect(entries.count == 3 && entries.contains(tables.address(of: mcfgTable)))
        let rsdt = tables.contents(of: try #require(tables.table("RSDT")))
        #expect(stride(from: 36, to: rsdt.count, by: 4).map { UInt64(rsdt.read(UInt32.self, at: $0)) } == entries)
        #expect(biosAreaBase + UInt64(tables.bytes.count) <= biosAreaEnd, "blob must fit in 0xE0000-0xFFFFF")
    }

    @Test func iaslSeesThePCIHostBridge() throws {
        let iasl = try IASL()
        let tables = ACPITables.build(Self.pciPlatform(cpuCount: 2), at: biosAreaBase)
        let folder = try TemporaryFolder()
        try Data(tables.contents(of: try #require(tables.table("DSDT")))).write(to: folder.url.appending(path: "DSDT.dat"))
        let asl = try iasl.disassemble("DSDT.dat", in: folder.url)
        let expected = [
            "Device (PCI0) { Name (_HID, EisaId (\"PNP0A08\") ) Name (_CID, EisaId (\"PNP0A03\") )",
            "Name (_SEG, Zero) Name (_BBN, Zero) Name (_UID, Zero)",
            "WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0x0000, 0x0000, 0x0000, 0x0000, 0x0001, ,, )",
            "IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08, )",
            "WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8, ,, , TypeStatic, DenseTranslation)",
            "WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300, ,, , TypeStatic, DenseTranslation)",
            "DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0x00000000, 0xC0000000, 0xDFFFFFFF, 0x00000000, 0x20000000, ,, , AddressRangeMemory, TypeStatic)",
            "Name (_PRT, Package (0x0C) { Package (0x04) { 0x0001FFFF, Zero, Zero, 0x11 }, Package (0x04) { 0x0001FFFF, One, Zero, 0x12 },",
            "Package (0x04) { 0x0003FFFF, 0x03, Zero, 0x16 } })",
            "Device (MRES) { Name (_HID, EisaId (\"PNP0C02\") ) Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xE0000000, 0x00100000, ) })",
        ]
        for construct in expected {
            #expect(asl.contains(construct), "missing \(construct)")
        }
    }

    @Test func prtAgreesWithTheBusWiring() {
        // Decode the _PRT entries straight from the AML: DWord address, pin, source, GSI.
        let tables = ACPITables.build(Self.pciPlatform(cpuCount: 1), at: biosAreaBase)
        let dsdt = tables.contents(of: tables.table("DSDT")!)
        for slot in 0..<32 {
            let listed = Self.interruptSlots.contains(slot)
            for pin in 0..<4 {
                let gsi = PCIBus.interruptGSI(slot: slot, pin: pin + 1)
                let address = UInt32(slot) << 16 | 0xffff
                let addressBytes: [UInt8] = address <= 0xffff
                    ? [0x0b, 0xff, 0xff] : [0x0c] + (0..<4).map { UInt8(truncatingIfNeeded: address >> (8 * $0)) }
                let pinBytes: [UInt8] = pin == 0 ? [0x00] : pin == 1 ? [0x01] : [0x0a, UInt8(pin)]
                let entry = [0x12] + [UInt8(2 + addressBytes.count + pinBytes.count + 1 + 2), 4] + addressBytes + pinBytes
                    + [0x00, 0x0a, UInt8(gsi)]
                #expect((dsdt.firstRange(of: entry) != nil) == listed, "slot \(slot) pin \(pin) → GSI \(gsi) listed: \(listed)")
            }
        }
    }

    // MARK: iasl as the oracle

    @Test(arguments: [1, 256, 1024])
    func iaslDecodesEveryTableAsWritten(cpuCount: Int) throws {
        let iasl = try IASL()
        let tables = ACPITables.build(Self.pciPlatform(cpuCount: cpuCount), at: biosAreaBase)
        let folder = try TemporaryFolder()
        for table in tables.tables where table.signature != "RSDP" {
            let name = table.signature
            try Data(tables.contents(of: table)).write(to: folder.url.appending(path: "\(name).dat"))
            try iasl.disassemble("\(name).dat", in: folder.url)

            // Compiling the disassembly must give back our table: iasl read every field
            // as we meant it. Only the creator fields (and so the checksum) change.
            let recompiled = try iasl.compile("\(name).dsl", in: folder.url)
            if name == "DSDT" { continue }  // iasl re-encodes AML (shorter paths); checked below
            var ours = tables.contents(of: table), theirs = recompiled
            if name != "FACS" {
                for index in [9] + Array(28..<36) { ours[index] = 0; theirs[index] = 0 }
            }
            #expect(theirs == ours, "\(name) changed in an iasl round trip")
        }
    }

    @Test func iaslComputesTheSameRSDP() throws {
        let iasl = try IASL()
        let tables = ACPITables.build(ACPIPlatform(cpuCount: 1), at: biosAreaBase)
        let rsdp = tables.contents(of: try #require(tables.table("RSDP")))
        // iasl cannot disassemble a binary RSDP, but its table compiler fills in both
        // checksums itself, so compiling our field values must reproduce our bytes.
        let source = """
            [0008]                          Signature : "RSD PTR "
            [0001]                           Checksum : 00
            [0006]                             Oem ID : "VMMSWF"
            [0001]                           Revision : 02
            [0004]                       RSDT Address : \(hex(rsdp.read(UInt32.self, at: 16), digits: 8))
            [0004]                             Length : 00000024
            [0008]                       XSDT Address : \(hex(rsdp.read(UInt64.self, at: 24), digits: 16))
            [0001]                  Extended Checksum : 00
            [0003]                           Reserved : 000000

            """
        let folder = try TemporaryFolder()
        try source.write(to: folder.url.appending(path: "RSDP.asl"), atomically: true, encoding: .utf8)
        #expect(try iasl.compile("RSDP.asl", in: folder.url) == rsdp)
    }

    @Test func iaslSeesTheDSDTDevices() throws {
        let iasl = try IASL()
        var platform = ACPIPlatform(cpuCount: 1)
        platform.serialPorts.append(.init(port: 0x2f8, irq: 3))
        let tables = ACPITables.build(platform, at: biosAreaBase)
        let folder = try TemporaryFolder()
        try Data(tables.contents(of: try #require(tables.table("DSDT")))).write(to: folder.url.appending(path: "DSDT.dat"))
        let asl = try iasl.disassemble("DSDT.dat", in: folder.url)
        #expect(try String(contentsOf: folder.url.appending(path: "DSDT.dsl"), encoding: .utf8).contains("_S5_"))
        #expect(asl.contains("Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })"))
        #expect(asl.contains("Scope (\\_SB) { Device (COM1) { Name (_HID, EisaId (\"PNP0501\")"))
        #expect(asl.contains("Name (_UID, One)"))
        #expect(asl.contains("IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08, ) IRQNoFlags () {4}"))
        #expect(asl.contains("Device (COM2)"))
        #expect(asl.contains("IO (Decode16, 0x02F8, 0x02F8, 0x01, 0x08, ) IRQNoFlags () {3}"))
    }

    @Test func iaslSeesTheGenerationIDDeviceAndItsEvent() throws {
        let iasl = try IASL()
        var platform = ACPIPlatform(cpuCount: 1)
        platform.gpe0Port = 0x60c
        platform.generationIDAddress = 0xff000
        let tables = ACPITables.build(platform, at: biosAreaBase)
        let fadt = tables.contents(of: try #require(tables.table("FACP")))
        #expect(fadt.read(UInt32.self, at: 80) == 0x60c, "GPE0_BLK")
        #expect(fadt[92] == 4, "GPE0_BLK_LEN")
        let folder = try TemporaryFolder()
        try Data(tables.contents(of: try #require(tables.table("DSDT")))).write(to: folder.url.appending(path: "DSDT.dat"))
        let asl = try iasl.disassemble("DSDT.dat", in: folder.url)
        #expect(asl.contains("Device (VGEN) { Name (_HID, \"VMGENCTR\")"))
        #expect(asl.contains("Name (_CID, \"VM_Gen_Counter\")"))
        #expect(asl.contains("Name (ADDR, Package (0x02) { 0x000FF000, Zero })"))
        #expect(asl.contains("Scope (\\_GPE) { Method (_E00, 0, NotSerialized) { Notify (\\_SB.VGEN, 0x80)"))
    }

    // MARK: AML encoder

    /// PkgLength counts its own bytes, so the encodings switch at totals of 63/64 and
    /// 4095/4096 bytes, i.e. at 62/63 and 4093/4094 bytes of content.
    @Test func pkgLengthBoundaries() {
        #expect(ACPIAML.pkgLength(containing: 0) == [0x01])
        #expect(ACPIAML.pkgLength(containing: 62) == [0x3f])
        #expect(ACPIAML.pkgLength(containing: 63) == [0x41, 0x04])
        #expect(ACPIAML.pkgLength(containing: 4093) == [0x4f, 0xff])
        #expect(ACPIAML.pkgLength(containing: 4094) == [0x81, 0x00, 0x01])
        #expect(ACPIAML.pkgLength(containing: 0xf_fffc) == [0x8f, 0xff, 0xff])
        #expect(ACPIAML.pkgLength(containing: 0xf_fffd) == [0xc1, 0x00, 0x00, 0x01])
        for content in Array(0..<5000) + [0xf_fff0..<0x10_0010].flatMap({ Array($0) }) {
            let encoded = ACPIAML.pkgLength(containing: content)
            #expect(decodePkgLength(encoded) == content + encoded.count, "content \(content)")
        }
    }

    @Test func iaslParsesPackagesAcrossPkgLengthBoundaries() throws {
        let iasl = try IASL()
        func buffer(_ size: Int) -> [UInt8] { ACPIAML.buffer([UInt8](repeating: 0x5a, count: size)) }
        func package(_ count: Int) -> [UInt8] { ACPIAML.package(Array(repeating: ACPIAML.integer(0), count: count)) }
        // Buffer content is its size prefix plus the data; package content is the count
        // byte plus one ZeroOp per element.
        let aml = ACPIAML.scope("\\_SB", [
            ACPIAML.name("P061", package(61)),  // 62 bytes of content: one-byte PkgLength
            ACPIAML.name("P062", package(62)),  // 63: two bytes
            ACPIAML.name("B060", buffer(60)),
            ACPIAML.name("B061", buffer(61)),
            ACPIAML.name("BFFA", buffer(4090)),  // 4093: two bytes
            ACPIAML.name("BFFB", buffer(4091)),  // 4094: three bytes
            ACPIAML.name("LAST", ACPIAML.integer(0x1234_5678)),  // parsed only if all lengths were right
        ])
        let folder = try TemporaryFolder()
        try Data(ACPITableHeader.table(signature: "DSDT", revision: 2, body: aml)).write(to: folder.url.appending(path: "DSDT.dat"))
        let asl = try iasl.disassemble("DSDT.dat", in: folder.url)
        #expect(asl.contains("Name (P061, Package (0x3D)"))
        #expect(asl.contains("Name (P062, Package (0x3E)"))
        #expect(asl.contains("Name (B060, Buffer (0x3C)"))
        #expect(asl.contains("Name (B061, Buffer (0x3D)"))
        #expect(asl.contains("Name (BFFA, Buffer (0x0FFA)"))
        #expect(asl.contains("Name (BFFB, Buffer (0x0FFB)"))
        #expect(asl.contains("Name (LAST, 0x12345678)"))
    }

    @Test func amlEncodings() {
        #expect(ACPIAML.eisaID("PNP0501") == [0x0c, 0x41, 0xd0, 0x05, 0x01])
        #expect(ACPIAML.integer(0) == [0x00] && ACPIAML.integer(1) == [0x01])
        #expect(ACPIAML.integer(0xff) == [0x0a, 0xff] && ACPIAML.integer(0x100) == [0x0b, 0x00, 0x01])
        #expect(ACPIAML.integer(0x1_0000) == [0x0c, 0x00, 0x00, 0x01, 0x00])
        #expect(ACPIAML.nameString("_S5") == Array("_S5_".utf8))
        #expect(ACPIAML.nameString("\\_SB.COM1") == [0x5c, 0x2e] + Array("_SB_COM1".utf8))
        #expect(ACPIAML.nameString("_SB.PCI0.ISA") == [0x2f, 3] + Array("_SB_PCI0ISA_".utf8))
        #expect(ACPIAML.integer(0x1_0000_0000) == [0x0e, 0, 0, 0, 0, 1, 0, 0, 0])
        let template = ACPIResourceTemplate.buffer([ACPIResourceTemplate.irqNoFlags(4)])
        #expect(template == [0x11, 0x08, 0x0a, 0x05, 0x22, 0x10, 0x00, 0x79, 0x55])
        #expect(template[4...].sum == 0, "end tag checksum")
    }
}

// MARK: - Helpers

extension ACPITables {
    fileprivate func contents(of table: Table) -> [UInt8] {
        Array(bytes[table.offset..<table.offset + table.length])
    }

    fileprivate func address(of table: Table) -> UInt64 {
        rsdpAddress + UInt64(table.offset)
    }
}

extension Collection<UInt8> {
    fileprivate var sum: UInt8 { reduce(0, &+) }
}

extension Array<UInt8> {
    fileprivate func read<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        self[offset..<offset + MemoryLayout<T>.size].reversed().reduce(0) { $0 << 8 | T($1) }
    }
}

private func hex<T: FixedWidthInteger>(_ value: T, digits: Int) -> String {
    let text = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: digits - text.count) + text
}

/// Decodes a PkgLength the way an AML interpreter does.
private func decodePkgLength(_ bytes: [UInt8]) -> Int {
    let following = Int(bytes[0] >> 6)
    guard following > 0 else { return Int(bytes[0] & 0x3f) }
    return (1...following).reduce(Int(bytes[0] & 0x0f)) { $0 | Int(bytes[$1]) << (4 + 8 * ($1 - 1)) }
}

private struct TemporaryFolder: ~Copyable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appending(path: "acpi-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Runs the ACPICA compiler/disassembler, failing the test when it is missing.
private struct IASL {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let executable: URL

    init() throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map { "\($0)/iasl" } + ["/usr/bin/iasl", "/usr/local/bin/iasl"]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Failure(description: "iasl not found: apt-get install acpica-tools")
        }
        executable = URL(fileURLWithPath: found)
    }

    /// Disassembles `file` and returns the ASL with comments dropped and whitespace
    /// collapsed, so tests can match constructs regardless of iasl's layout.
    @discardableResult
    func disassemble(_ file: String, in folder: URL) throws -> String {
        let output = try run(["-d", file], in: folder)
        let complaints = output.split(separator: "\n").filter { line in
            ["warning", "error", "checksum", "invalid", "does not contain", "too long", "abort"]
                .contains { line.lowercased().contains($0) }
        }
        guard complaints.isEmpty else {
            throw Failure(description: "iasl -d \(file) complained:\n\(complaints.joined(separator: "\n"))")
        }
        let dsl = folder.appending(path: file.replacingOccurrences(of: ".dat", with: ".dsl"))
        let text = try String(contentsOf: dsl, encoding: .utf8)
        return text.split(separator: "\n")
            .map { line in line.range(of: "//").map { line[..<$0.lowerBound] } ?? line[...] }
            .joined(separator: " ")
            .replacingOccurrences(of: "/\\*.*?\\*/", with: " ", options: .regularExpression)
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// Compiles `file` (ASL or a data table source) and returns the resulting binary.
    func compile(_ file: String, in folder: URL) throws -> [UInt8] {
        let output = try run([file], in: folder)
        guard output.contains("Compilation successful. 0 Errors, 0 Warnings, 0 Remarks") else {
            throw Failure(description: "iasl \(file) failed:\n\(output)")
        }
        let base = (file as NSString).deletingPathExtension
        return Array(try Data(contentsOf: folder.appending(path: "\(base).aml")))
    }

    private func run(_ arguments: [String], in folder: URL) throws -> String {
        let process = SpawnedProcess()
        let pipe = Pipe()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = folder
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "iasl \(arguments.joined(separator: " ")) exited \(process.terminationStatus):\n\(output)")
        }
        return output
    }
}
