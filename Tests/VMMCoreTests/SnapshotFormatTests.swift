import Testing
@testable import VMMCore

/// The state file's encoding and framing, without a VM.
struct SnapshotFormatTests {
    @Test func valuesAndSectionsRoundTrip() throws {
        var encoder = StateEncoder()
        encoder.section("first") { e in
            e.append(UInt16(0xbeef))
            e.append(true)
            e.append("name")
            e.append(bytes: [1, 2, 3])
        }
        encoder.append(UInt64.max)
        var decoder = StateDecoder(encoder.bytes)
        try decoder.section("first") { (d) throws(VMMError) in
            #expect(try d.read(UInt16.self) == 0xbeef)
            #expect(try d.readBool())
            #expect(try d.readString() == "name")
            #expect(try d.readBytes() == [1, 2, 3])
        }
        #expect(try decoder.read(UInt64.self) == .max)
        #expect(decoder.isAtEnd)
    }

    @Test func aSectionMustBeReadExactlyAndByName() {
        var encoder = StateEncoder()
        encoder.section("devices") { $0.append(UInt32(7)) }
        var wrongName = StateDecoder(encoder.bytes)
        #expect(throws: VMMError.self) { try wrongName.section("vcpu") { (d) throws(VMMError) in _ = try d.read(UInt32.self) } }
        var leftOver = StateDecoder(encoder.bytes)
        #expect(throws: VMMError.self) { try leftOver.section("devices") { (d) throws(VMMError) in _ = try d.read(UInt16.self) } }
    }

    @Test func truncatedInputFailsInsteadOfTrapping() {
        var encoder = StateEncoder()
        encoder.append(bytes: [UInt8](repeating: 9, count: 100))
        for length in [0, 3, 50, 103] {
            var decoder = StateDecoder(Array(encoder.bytes.prefix(length)))
            #expect(throws: VMMError.self) { _ = try decoder.readBytes() }
        }
        var huge = StateDecoder([0xff, 0xff, 0xff, 0xff])
        #expect(throws: VMMError.self) { _ = try huge.readBytes() }
    }

    @Test func framingDetectsEveryDamage() throws {
        let body: [UInt8] = Array(0..<200)
        let framed = SnapshotFormat.frame(body)
        #expect(try SnapshotFormat.unframe(framed, path: "state") == body)
        var flipped = framed
        flipped[30] ^= 0x10
        #expect(throws: VMMError.self) { try SnapshotFormat.unframe(flipped, path: "state") }
        #expect(throws: VMMError.self) { try SnapshotFormat.unframe(Array(framed.dropLast(9)), path: "state") }
        var newer = framed
        newer[8] = UInt8(SnapshotFormat.version + 1)
        do {
            _ = try SnapshotFormat.unframe(newer, path: "state")
            Issue.record("a newer format was accepted")
        } catch {
            #expect(error.description.contains("format version \(SnapshotFormat.version + 1)"))
        }
        #expect(throws: VMMError.self) { try SnapshotFormat.unframe(Array("not a snapshot at all".utf8), path: "state") }
    }

    @Test func crc32MatchesTheStandardCheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func snapshotRequestsTakeAnAbsoluteFolderAndAnOption() throws {
        #expect(try ControlRequest.parse(Array("snapshot /var/snap".utf8)).get()
            == .snapshot(directory: "/var/snap", memoryOnly: false))
        #expect(try ControlRequest.parse(Array(" snapshot /s memory-only\r".utf8)).get()
            == .snapshot(directory: "/s", memoryOnly: true))
        for line in ["snapshot", "snapshot relative", "snapshot /s fast", "snapshot /a /b c", "status now"] {
            #expect(throws: ControlError.self, "\(line)") { try ControlRequest.parse(Array(line.utf8)).get() }
        }
    }

    @Test func memoryRangesMerge() {
        #expect(GuestMemory.merge([8..<12, 0..<4, 4..<6, 10..<16]) == [0..<6, 8..<16])
    }
}
