import Testing
@testable import VMMCore

@Suite struct GuestMemoryMapTests {
    static let biosArea = [
        E820Entry(address: 0, size: 0x9_FC00, type: .ram),
        E820Entry(address: 0x9_FC00, size: 0x10_0000 - 0x9_FC00, type: .reserved),
    ]
    /// The PCI Express configuration window, reserved so that Linux uses it.
    static let ecam = E820Entry(address: 0xE000_0000, size: 1 << 20, type: .reserved)

    @Test func e820For256MiB() {
        #expect(GuestMemoryMap.e820(size: 256 << 20)
            == Self.biosArea + [E820Entry(address: 0x10_0000, size: (256 << 20) - 0x10_0000, type: .ram), Self.ecam])
    }

    @Test func e820For3GiBEndsAtTheHole() {
        #expect(GuestMemoryMap.e820(size: 3 << 30)
            == Self.biosArea + [E820Entry(address: 0x10_0000, size: 0xC000_0000 - 0x10_0000, type: .ram), Self.ecam])
    }

    @Test func e820For5GiBContinuesAbove4GiB() {
        #expect(GuestMemoryMap.e820(size: 5 << 30) == Self.biosArea + [
            E820Entry(address: 0x10_0000, size: 0xC000_0000 - 0x10_0000, type: .ram),
            Self.ecam,
            E820Entry(address: 1 << 32, size: 2 << 30, type: .ram),
        ])
    }

    @Test func e820NeverCoversTheMMIOHole() {
        for size: UInt64 in [2 << 20, 3 << 30, (3 << 30) + 4096, 5 << 30, 64 << 30] {
            let entries = GuestMemoryMap.e820(size: size)
            let ram = entries.filter { $0.type == .ram }.reduce(UInt64(0)) { $0 + $1.size }
            #expect(ram == size - 0x6_0400, "all RAM except the BIOS area is described for \(size)")
            #expect(entries.contains(Self.ecam))
            #expect(zip(entries, entries.dropFirst()).allSatisfy { $0.address + $0.size <= $1.address }, "sorted, disjoint")
            for entry in entries where entry.type == .ram {
                let end = entry.address + entry.size
                #expect(end <= 0xC000_0000 || entry.address >= 1 << 32)
            }
        }
    }
}

@Suite struct GuestMemoryTests {
    @Test func highRegionStartsAt4GiB() throws {
        let memory = try GuestMemory(size: 5 << 30)
        #expect(memory.regions.count == 2)
        #expect(memory.regions[1].guestAddress == 1 << 32)
        #expect(memory.regions[1].end == 6 << 30)
        #expect(memory.pointer(at: 1 << 32, count: 1) == memory.base + (3 << 30))
    }

    @Test func roundTripsValuesAndBytesAboveAndBelowTheHole() throws {
        let memory = try GuestMemory(size: 5 << 30)
        try memory.write(UInt64(0x1122_3344_5566_7788), at: 0xBFFF_FFF8)
        try memory.write(UInt32(0xCAFE_F00D), at: 1 << 32)
        try memory.write([1, 2, 3, 4, 5] as [UInt8], at: (6 << 30) - 5)
        #expect(memory.read(UInt64.self, at: 0xBFFF_FFF8) == 0x1122_3344_5566_7788)
        #expect(memory.read(UInt8.self, at: 0xBFFF_FFF8) == 0x88)  // little-endian
        #expect(memory.read(UInt32.self, at: 1 << 32) == 0xCAFE_F00D)
        #expect(memory.readBytes(at: (6 << 30) - 5, count: 5) == [1, 2, 3, 4, 5])
        #expect(memory.read(UInt32.self, at: 0x1000) == 0)  // fresh memory is zero
    }

    static let outsideRAM: [(UInt64, Int)] = [
        (0xC000_0000, 1),  // first byte of the hole
        (0xFEE0_0000, 4),  // LAPIC, inside the hole
        (0xFFFF_FFFF, 1),
        (0xBFFF_FFFC, 8),  // straddles the end of low RAM
        ((6 << 30) - 4, 8),  // straddles the end of high RAM
        (6 << 30, 1),  // just past the end
        (UInt64.max, 1),
        (UInt64.max - 3, 8),
        (0x1000, Int.max),  // count overflows the address
        (0x1000, -1),
    ]

    @Test(arguments: outsideRAM)
    func rejectsAccessesOutsideRAM(address: UInt64, count: Int) throws {
        let memory = try GuestMemory(size: 5 << 30)
        #expect(memory.pointer(at: address, count: count) == nil)
        #expect(!memory.contains(address, count: count))
        if count >= 0 && count < 16 {
            #expect(memory.readBytes(at: address, count: count) == nil)
            #expect(throws: VMMError.self) { try memory.write([UInt8](repeating: 0, count: count), at: address) }
        }
    }

    @Test func accessesEndingExactlyAtRegionEndsAreAllowed() throws {
        let memory = try GuestMemory(size: 5 << 30)
        #expect(memory.contains(0xBFFF_FFFC, count: 4))
        #expect(memory.contains((6 << 30) - 8, count: 8))
        #expect(memory.read(UInt64.self, at: (6 << 30) - 8) == 0)
    }

    @Test func smallMemoryEndsAtItsSize() throws {
        let memory = try GuestMemory(size: 2 << 20)
        #expect(memory.regions.count == 1)
        #expect(memory.contains((2 << 20) - 1, count: 1))
        #expect(!memory.contains(2 << 20, count: 1))
        #expect(throws: VMMError.self) { try memory.write(UInt16(1), at: (2 << 20) - 1) }
    }

    @Test func refusesLessThanTheMinimum() {
        let error = #expect(throws: VMMError.self) { try GuestMemory(size: 1 << 20) }
        guard case .invalidConfiguration(let message) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(message.contains("2 MiB"))
    }
}
