import Testing
@testable import VMMCore

@Suite struct PVHLoaderTests {
    static let loadAddress: UInt64 = 0x100_0000
    static let entry: UInt64 = 0x100_0040
    static let code = pattern(count: 0x400, seed: 13)
    static let initrd = pattern(count: 7000, seed: 17)

    static func kernel(noteName: String = "Xen", noteType: UInt32 = 18) -> [UInt8] {
        var descriptor = ImageBytes(count: 8)
        descriptor.set(entry, at: 0)
        let note = SyntheticKernel.note(name: noteName, type: noteType, descriptor: descriptor.bytes)
        return SyntheticKernel.elf(
            is64: true, machine: 62, entry: 0xffff_ffff_8100_0000,
            programs: [
                .init(type: ELFImage.noteType, fileOffset: 0x800, address: 0, fileSize: note.count,
                      memorySize: UInt64(note.count)),
                .init(fileOffset: 0x1000, address: loadAddress, fileSize: code.count, memorySize: 0x2000),
            ],
            contents: [(0x800, note), (0x1000, code)])
    }

    static func load(initrd: [UInt8]?, size: UInt64 = 64 << 20) throws -> (EntryPoint, GuestMemory) {
        let memory = try GuestMemory(size: size)
        let entry = try BootLoader.load(bootContext(
            kernel: kernel(), initrd: initrd, commandLine: "console=hvc0 pvh", memory: memory, rsdpAddress: 0xE_0000))
        return (entry, memory)
    }

    @Test func entersAtTheNotesEntryWithStartInfo() throws {
        let (entry, memory) = try Self.load(initrd: nil)
        #expect(entry == .protectedMode(eip: UInt32(Self.entry), eax: 0, ebx: 0x6000))
        #expect(memory.readBytes(at: Self.loadAddress, count: Self.code.count) == Self.code)
    }

    @Test(arguments: [UInt64(64 << 20), 5 << 30])
    func startInfoDescribesCommandLineRSDPAndMemoryMap(size: UInt64) throws {
        let (_, memory) = try Self.load(initrd: nil, size: size)
        #expect(memory.read(UInt32.self, at: 0x6000) == 0x336e_c578)
        #expect(memory.read(UInt32.self, at: 0x6004) == 1)
        #expect(memory.read(UInt32.self, at: 0x600c) == 0)  // nr_modules
        let commandLine = try #require(memory.read(UInt64.self, at: 0x6018))
        #expect(memory.cString(at: commandLine) == "console=hvc0 pvh")
        #expect(memory.read(UInt64.self, at: 0x6020) == 0xE_0000)

        let expected = GuestMemoryMap.e820(size: size)
        let map = try #require(memory.read(UInt64.self, at: 0x6028))
        #expect(memory.read(UInt32.self, at: 0x6030) == UInt32(expected.count))
        for (index, entry) in expected.enumerated() {
            let at = map + UInt64(index * 24)
            #expect(memory.read(UInt64.self, at: at) == entry.address)
            #expect(memory.read(UInt64.self, at: at + 8) == entry.size)
            #expect(memory.read(UInt32.self, at: at + 16) == entry.type.rawValue)
        }
    }

    @Test func initrdIsTheOnlyModule() throws {
        let (_, memory) = try Self.load(initrd: Self.initrd)
        #expect(memory.read(UInt32.self, at: 0x600c) == 1)
        let list = try #require(memory.read(UInt64.self, at: 0x6010))
        let address = try #require(memory.read(UInt64.self, at: list))
        #expect(memory.read(UInt64.self, at: list + 8) == UInt64(Self.initrd.count))
        #expect(address % 4096 == 0)
        #expect(address >= Self.loadAddress + 0x2000)
        #expect(address + UInt64(Self.initrd.count) <= 64 << 20)
        #expect(memory.readBytes(at: address, count: Self.initrd.count) == Self.initrd)
    }

    @Test func detectRecognizesEachFormat() throws {
        let bzImage = SyntheticKernel.bzImage(payload: pattern(count: 512))
        let multiboot = SyntheticKernel.elf(
            is64: false, machine: 3, entry: 0x10_0000,
            programs: [.init(fileOffset: 0x1000, address: 0x10_0000, fileSize: 12, memorySize: 12)],
            contents: [(0x1000, SyntheticKernel.multibootHeader)])
        #expect(try BootLoader.detect(bzImage, path: "bz") == .linux)
        #expect(try BootLoader.detect(Self.kernel(), path: "vmlinux") == .pvh)
        #expect(try BootLoader.detect(multiboot, path: "mb.elf") == .multiboot)
    }

    @Test func detectExplainsGarbage() {
        let error = #expect(throws: VMMError.self) {
            try BootLoader.detect(pattern(count: 4096), path: "/tmp/garbage.bin")
        }
        guard case .invalidImage(let path, let reason) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(path == "/tmp/garbage.bin")
        #expect(reason.contains("bzImage"))
    }

    @Test(arguments: [("Xen", UInt32(17)), ("Linux", UInt32(18))])
    func elfWithoutAPVHNoteExplainsHowToBuildOne(name: String, type: UInt32) {
        let error = #expect(throws: VMMError.self) {
            try BootLoader.detect(Self.kernel(noteName: name, noteType: type), path: "vmlinux")
        }
        guard case .invalidImage(_, let reason) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.contains("CONFIG_PVH"))
    }
}
