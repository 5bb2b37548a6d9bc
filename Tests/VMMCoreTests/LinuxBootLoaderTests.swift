import Testing
@testable import VMMCore

@Suite struct LinuxBootLoaderTests {
    static let payload = pattern(count: 8192, seed: 3)
    static let initrd = pattern(count: 10_000, seed: 9)
    static let commandLine = "console=ttyS0 root=/dev/vda quiet"
    static let zeroPage: UInt64 = 0x7000

    func boot(
        _ kernel: [UInt8] = SyntheticKernel.bzImage(payload: payload), initrd: [UInt8]? = initrd,
        commandLine: String = commandLine, memory: GuestMemory
    ) throws -> EntryPoint {
        try BootLoader.load(bootContext(kernel: kernel, initrd: initrd, commandLine: commandLine, memory: memory))
    }

    @Test func entersTheKernelInLongModeWithTheZeroPage() throws {
        let memory = try GuestMemory(size: 64 << 20)
        let entry = try boot(memory: memory)
        #expect(entry == .longMode(rip: 0x10_0200, rsi: 0x7000, pageTableRoot: 0x9000))
        #expect(memory.readBytes(at: 0x10_0000, count: Self.payload.count) == Self.payload)
    }

    @Test func zeroPageCarriesTheSetupHeaderAndLoaderFields() throws {
        let memory = try GuestMemory(size: 64 << 20)
        _ = try boot(memory: memory)
        let z = Self.zeroPage
        #expect(memory.read(UInt32.self, at: z + 0x202) == 0x5372_6448)  // "HdrS" copied from the image
        #expect(memory.read(UInt16.self, at: z + 0x206) == 0x020f)
        #expect(memory.read(UInt8.self, at: z + 0x210) == 0xff)  // type_of_loader
        let loadFlags = try #require(memory.read(UInt8.self, at: z + 0x211))
        #expect(loadFlags & 0x80 != 0)  // CAN_USE_HEAP
        #expect(loadFlags & 0x01 != 0)  // LOADED_HIGH kept from the image
        #expect(memory.read(UInt64.self, at: z + 0x70) == GuestMemoryMap.acpiTablesStart)

        let commandLinePointer = try #require(memory.read(UInt32.self, at: z + 0x228))
        #expect(memory.cString(at: UInt64(commandLinePointer)) == Self.commandLine)
    }

    @Test func initrdIsPlacedHighPageAlignedAndAboveTheKernel() throws {
        let memory = try GuestMemory(size: 64 << 20)
        _ = try boot(memory: memory)
        let address = UInt64(try #require(memory.read(UInt32.self, at: Self.zeroPage + 0x218)))
        let size = try #require(memory.read(UInt32.self, at: Self.zeroPage + 0x21c))
        #expect(size == UInt32(Self.initrd.count))
        #expect(address % 4096 == 0)
        #expect(address >= 0x10_0000 + 0x40_0000)  // past the kernel's init_size
        #expect(address + UInt64(size) <= 64 << 20)
        #expect(memory.readBytes(at: address, count: Self.initrd.count) == Self.initrd)
    }

    @Test func initrdStaysBelowInitrdAddressMax() throws {
        let memory = try GuestMemory(size: 64 << 20)
        let kernel = SyntheticKernel.bzImage(initrdAddressMax: 0x00ff_ffff, payload: Self.payload)
        _ = try boot(kernel, memory: memory)
        let address = UInt64(try #require(memory.read(UInt32.self, at: Self.zeroPage + 0x218)))
        #expect(address + UInt64(Self.initrd.count) <= 0x100_0000)
        #expect(address >= 0x50_0000)
        #expect(memory.readBytes(at: address, count: Self.initrd.count) == Self.initrd)
    }

    @Test func noInitrdLeavesRamdiskFieldsZero() throws {
        let memory = try GuestMemory(size: 64 << 20)
        _ = try boot(initrd: nil, memory: memory)
        #expect(memory.read(UInt32.self, at: Self.zeroPage + 0x218) == 0)
        #expect(memory.read(UInt32.self, at: Self.zeroPage + 0x21c) == 0)
    }

    @Test(arguments: [UInt64(64 << 20), 5 << 30])
    func e820TableMatchesTheMemoryMap(size: UInt64) throws {
        let memory = try GuestMemory(size: size)
        _ = try boot(memory: memory)
        let expected = GuestMemoryMap.e820(size: size)
        #expect(memory.read(UInt8.self, at: Self.zeroPage + 0x1e8) == UInt8(expected.count))
        for (index, entry) in expected.enumerated() {
            let at = Self.zeroPage + 0x2d0 + UInt64(index * 20)
            #expect(memory.read(UInt64.self, at: at) == entry.address)
            #expect(memory.read(UInt64.self, at: at + 8) == entry.size)
            #expect(memory.read(UInt32.self, at: at + 16) == entry.type.rawValue)
        }
    }

    @Test func identityMapsTheFirstFourGiBWithLargePages() throws {
        let memory = try GuestMemory(size: 64 << 20)
        _ = try boot(memory: memory)
        let pml4Entry = try #require(memory.read(UInt64.self, at: 0x9000))
        #expect(pml4Entry & 0x3 == 0x3)
        let pdpt = pml4Entry & ~0xfff
        for gib in UInt64(0)..<4 {
            let pdptEntry = try #require(memory.read(UInt64.self, at: pdpt + gib * 8))
            #expect(pdptEntry & 0x3 == 0x3)
            let directory = pdptEntry & ~0xfff
            for index in [UInt64(0), 1, 511] {
                let pde = try #require(memory.read(UInt64.self, at: directory + index * 8))
                #expect(pde & 0x83 == 0x83, "present, writable, 2 MiB page")
                #expect(pde & ~0xfff == (gib << 30) + (index << 21))
            }
        }
    }

    @Test func rejectsBootProtocolsOlderThan212() throws {
        let memory = try GuestMemory(size: 64 << 20)
        let kernel = SyntheticKernel.bzImage(version: 0x020b, payload: Self.payload)
        let error = #expect(throws: VMMError.self) { try boot(kernel, memory: memory) }
        guard case .invalidImage(let path, let reason) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(path == "/images/kernel")
        #expect(reason.contains("2.12"))
    }

    @Test func rejectsKernelsWithoutA64BitEntry() throws {
        let memory = try GuestMemory(size: 64 << 20)
        let kernel = SyntheticKernel.bzImage(xloadflags: 0x2, payload: Self.payload)
        let error = #expect(throws: VMMError.self) { try boot(kernel, memory: memory) }
        guard case .invalidImage(_, let reason) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.contains("XLF_KERNEL_64"))
    }

    @Test func commandLineLimitIsTheKernelsCmdlineSize() throws {
        let kernel = SyntheticKernel.bzImage(commandLineSize: 16, payload: Self.payload)
        let fits = String(repeating: "a", count: 16)
        let memory = try GuestMemory(size: 64 << 20)
        _ = try boot(kernel, commandLine: fits, memory: memory)
        #expect(memory.cString(at: 0x2_0000) == fits)

        let error = #expect(throws: VMMError.self) {
            try boot(kernel, commandLine: fits + "b", memory: try GuestMemory(size: 64 << 20))
        }
        guard case .invalidConfiguration(let message) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(message.contains("17 bytes"))
        #expect(message.contains("16"))
    }

    @Test func tooLittleMemoryForTheKernelAsksForMore() throws {
        let memory = try GuestMemory(size: 4 << 20)  // init_size needs 1 MiB + 4 MiB
        let error = #expect(throws: VMMError.self) { try boot(memory: memory) }
        #expect(error?.description.contains("--memory") == true)
        #expect(error?.isUserError == true)
    }

    @Test func tooLittleMemoryForTheInitrdAsksForMore() throws {
        let memory = try GuestMemory(size: 6 << 20)
        let error = #expect(throws: VMMError.self) {
            try boot(initrd: [UInt8](repeating: 1, count: 2 << 20), memory: memory)
        }
        #expect(error?.description.contains("--memory") == true)
    }

    @Test func truncatedSetupIsRejected() throws {
        let memory = try GuestMemory(size: 64 << 20)
        let kernel = SyntheticKernel.bzImage(payload: [])  // nothing after the setup sectors
        let error = #expect(throws: VMMError.self) { try boot(kernel, memory: memory) }
        guard case .invalidImage = error else { Issue.record("\(String(describing: error))"); return }
    }

    /// An image may allow a longer command line than fits below the BIOS area; the
    /// kernel at 1 MiB and the ACPI tables must survive it.
    @Test func longCommandLineDoesNotOverwriteTheKernel() throws {
        let kernel = SyntheticKernel.bzImage(commandLineSize: 0x10_0000, payload: Self.payload)
        let commandLine = String(repeating: "x", count: 0xF_0000)
        let memory = try GuestMemory(size: 64 << 20)
        do {
            _ = try boot(kernel, commandLine: commandLine, memory: memory)
            let intact = memory.readBytes(at: 0x10_0000, count: Self.payload.count) == Self.payload
            #expect(intact, "the kernel at 1 MiB was overwritten by the command line")
        } catch {
            // Refusing the command line would be fine too.
        }
        
    }
}
