import Testing
@testable import VMMCore

@Suite struct MultibootLoaderTests {
    static let loadAddress: UInt64 = 0x10_0000
    static let entry: UInt64 = 0x10_0010
    static let code = pattern(count: 0x200 - 12, seed: 5)
    /// File data 0x200 bytes, memory 0x3000: 0x2e00 bytes of BSS.
    static let kernel = SyntheticKernel.elf(
        is64: false, machine: 3, entry: entry,
        programs: [.init(fileOffset: 0x1000, address: loadAddress, fileSize: 0x200, memorySize: 0x3000)],
        contents: [(0x1000, SyntheticKernel.multibootHeader + code)])
    static let imageEnd: UInt64 = loadAddress + 0x3000
    static let initrd = pattern(count: 5000, seed: 11)

    struct Loaded {
        let memory: GuestMemory
        let info: UInt64
        func u32(_ offset: UInt64) -> UInt32 { memory.read(UInt32.self, at: info + offset) ?? 0xdead_beef }
    }

    func boot(
        initrd: [UInt8]? = nil, commandLine: String = "console=ttyS0 verbose", size: UInt64 = 64 << 20,
        kernel: [UInt8] = kernel, prepare: (GuestMemory) throws -> Void = { _ in }
    ) throws -> Loaded {
        let memory = try GuestMemory(size: size)
        try prepare(memory)
        let entry = try BootLoader.load(bootContext(
            kernel: kernel, path: "/boot/tests/hello.elf", initrd: initrd, commandLine: commandLine, memory: memory))
        guard case .protectedMode(let eip, let eax, let ebx) = entry else {
            Issue.record("expected a protected-mode entry, got \(entry)")
            return Loaded(memory: memory, info: 0)
        }
        #expect(eip == UInt32(Self.entry))
        #expect(eax == 0x2BAD_B002)
        return Loaded(memory: memory, info: UInt64(ebx))
    }

    @Test func entersAtTheELFEntryWithTheInfoBlockPastTheImage() throws {
        let loaded = try boot()
        #expect(loaded.info >= 0x1_0000)
        #expect(loaded.info >= Self.imageEnd)
        #expect(loaded.memory.readBytes(at: Self.loadAddress, count: 12) == SyntheticKernel.multibootHeader)
        #expect(loaded.memory.readBytes(at: Self.loadAddress + 12, count: Self.code.count) == Self.code)
    }

    @Test func infoBlockDescribesMemoryCommandLineAndLoader() throws {
        let loaded = try boot()
        let flags = loaded.u32(0)
        for bit in [0, 2, 6, 9] { #expect(flags & (1 << bit) != 0, "flag bit \(bit)") }
        #expect(loaded.u32(4) == 639)
        #expect(loaded.u32(8) == (64 << 10) - 1024)
        #expect(loaded.memory.cString(at: UInt64(loaded.u32(16))) == "hello.elf console=ttyS0 verbose")
        #expect(loaded.memory.cString(at: UInt64(loaded.u32(64))) == "vmm")
        #expect(loaded.u32(20) == 0)  // no modules without an initrd
    }

    @Test func emptyCommandLineIsJustTheFileName() throws {
        let loaded = try boot(commandLine: "")
        #expect(loaded.memory.cString(at: UInt64(loaded.u32(16))) == "hello.elf")
    }

    @Test(arguments: [UInt64(64 << 20), 5 << 30])
    func memoryMapMatchesE820(size: UInt64) throws {
        let loaded = try boot(size: size)
        let expected = GuestMemoryMap.e820(size: size)
        #expect(loaded.u32(44) == UInt32(expected.count * 24))
        let map = UInt64(loaded.u32(48))
        for (index, entry) in expected.enumerated() {
            let at = map + UInt64(index * 24)
            #expect(loaded.memory.read(UInt32.self, at: at) == 20)
            #expect(loaded.memory.read(UInt64.self, at: at + 4) == entry.address)
            #expect(loaded.memory.read(UInt64.self, at: at + 12) == entry.size)
            #expect(loaded.memory.read(UInt32.self, at: at + 20) == entry.type.rawValue)
        }
        if size == 5 << 30 {
            #expect(expected.last == E820Entry(address: 1 << 32, size: 2 << 30, type: .ram))
            #expect(loaded.u32(8) == UInt32((0xC000_0000 - 0x10_0000) / 1024))  // mem_upper stops at the hole
        }
    }

    @Test func initrdIsTheOnlyModule() throws {
        let loaded = try boot(initrd: Self.initrd)
        #expect(loaded.u32(0) & (1 << 3) != 0)
        #expect(loaded.u32(20) == 1)
        let module = UInt64(loaded.u32(24))
        let start = UInt64(try #require(loaded.memory.read(UInt32.self, at: module)))
        let end = UInt64(try #require(loaded.memory.read(UInt32.self, at: module + 4)))
        #expect(end - start == UInt64(Self.initrd.count))
        #expect(start % 4096 == 0)
        #expect(start >= Self.imageEnd)
        #expect(start > loaded.info)  // not on top of the info block either
        #expect(loaded.memory.readBytes(at: start, count: Self.initrd.count) == Self.initrd)
        let name = try #require(loaded.memory.read(UInt32.self, at: module + 8))
        #expect(loaded.memory.cString(at: UInt64(name)) == "initrd")
        // The command line and memory map are intact after the module was placed.
        #expect(loaded.memory.cString(at: UInt64(loaded.u32(16))) == "hello.elf console=ttyS0 verbose")
        #expect(loaded.memory.read(UInt32.self, at: UInt64(loaded.u32(48))) == 20)
    }

    @Test func bssIsZeroedOverGarbage() throws {
        let loaded = try boot { memory in
            try memory.write([UInt8](repeating: 0xAA, count: 0x3000), at: Self.loadAddress)
        }
        let bss = try #require(loaded.memory.readBytes(at: Self.loadAddress + 0x200, count: 0x2e00))
        #expect(bss.allSatisfy { $0 == 0 })
    }

    @Test func segmentPastTheEndOfTheFileIsRejected() throws {
        let kernel = SyntheticKernel.elf(
            is64: false, machine: 3, entry: Self.entry,
            programs: [.init(fileOffset: 0x1000, address: Self.loadAddress, fileSize: 0x10_0000, memorySize: 0x10_0000)],
            contents: [(0x1000, SyntheticKernel.multibootHeader + Self.code)])
        let error = #expect(throws: VMMError.self) { try boot(kernel: kernel) }
        guard case .invalidImage(_, let reason) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.contains("past the end"))
    }

    @Test(arguments: [3, 40, 51, 60, 80])
    func truncatedELFIsRejected(length: Int) throws {
        let kernel = Array(Self.kernel.prefix(length))
        let memory = try GuestMemory(size: 64 << 20)
        let context = bootContext(kernel: kernel, memory: memory)
        #expect(throws: VMMError.self) { try MultibootLoader.load(context) }
        #expect(throws: VMMError.self) { try BootLoader.load(context) }
    }

    @Test func segmentLargerThanGuestRAMAsksForMoreMemory() throws {
        let kernel = SyntheticKernel.elf(
            is64: false, machine: 3, entry: Self.entry,
            programs: [.init(fileOffset: 0x1000, address: Self.loadAddress, fileSize: 0x200, memorySize: 0x800_0000)],
            contents: [(0x1000, SyntheticKernel.multibootHeader + Self.code)])
        let error = #expect(throws: VMMError.self) { try boot(kernel: kernel) }
        #expect(error?.description.contains("--memory") == true)
    }

    @Test func initrdTooLargeForMemoryAsksForMore() throws {
        let error = #expect(throws: VMMError.self) {
            try boot(initrd: [UInt8](repeating: 7, count: 4 << 20), size: 4 << 20)
        }
        #expect(error?.description.contains("--memory") == true)
    }

    /// A kernel loaded below 640 KiB must not get its info block or initrd written across
    /// the reserved BIOS area (0x9FC00..0x100000), where the ACPI tables live.
    @Test func moduleStaysOutOfTheReservedBIOSArea() throws {
        let kernel = SyntheticKernel.elf(
            is64: false, machine: 3, entry: 0x2_0010,
            programs: [.init(fileOffset: 0x1000, address: 0x2_0000, fileSize: 0x200, memorySize: 0x1000)],
            contents: [(0x1000, SyntheticKernel.multibootHeader + Self.code)])
        let initrd = pattern(count: 1 << 20, seed: 23)
        let memory = try GuestMemory(size: 64 << 20)
        let acpiSentinel = Array("RSD PTR ".utf8)
        try memory.write(acpiSentinel, at: GuestMemoryMap.acpiTablesStart)
        let entry: EntryPoint
        do {
            entry = try BootLoader.load(bootContext(kernel: kernel, path: "low.elf", initrd: initrd, memory: memory))
        } catch {
            return  // refusing this layout would be acceptable
        }
        guard case .protectedMode(_, _, let info) = entry,
              let moduleList = memory.read(UInt32.self, at: UInt64(info) + 24),
              let start = memory.read(UInt32.self, at: UInt64(moduleList)),
              let end = memory.read(UInt32.self, at: UInt64(moduleList) + 4)
        else { Issue.record("no module list"); return }
        let ram = GuestMemoryMap.e820(size: memory.size).filter { $0.type == .ram }
        #expect(ram.contains { UInt64(start) >= $0.address && UInt64(end) <= $0.address + $0.size },
                "module 0x\(String(start, radix: 16))..0x\(String(end, radix: 16)) is not in e820 RAM")
        #expect(memory.readBytes(at: GuestMemoryMap.acpiTablesStart, count: 8) == acpiSentinel,
                "ACPI tables overwritten")
        
    }
}
