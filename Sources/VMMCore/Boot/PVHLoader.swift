/// The PVH boot protocol for an ELF vmlinux that carries XEN_ELFNOTE_PHYS32_ENTRY.
///
/// vCPU 0 enters in 32-bit protected mode with EBX = an `hvm_start_info` (version 1, so
/// it carries the memory map Linux 6.1 insists on, and the RSDP address).
enum PVHLoader {
    static let physicalEntryNote: UInt32 = 18
    static let startInfoMagic: UInt32 = 0x336e_c578
    static let startInfoAddress: UInt64 = 0x6000
    static let memoryMapAddress: UInt64 = 0x6040
    static let moduleListAddress: UInt64 = 0x6f00
    static let commandLineAddress: UInt64 = 0x2_0000
    static let commandLineLimit = 0x1_0000

    static func entryAddress(of image: ELFImage) -> UInt32? {
        for note in image.notes where note.name == "Xen" && note.type == physicalEntryNote {
            let reader = ByteReader(Array(note.descriptor))
            // Linux writes the entry as a pointer-sized value; only the low 32 bits matter.
            if let entry = reader.u32(0) { return entry }
        }
        return nil
    }

    static func load(_ context: BootContext) throws(VMMError) -> EntryPoint {
        let image = try ELFImage(context.kernel, path: context.kernelPath)
        guard let entry = entryAddress(of: image) else {
            throw .invalidImage(path: context.kernelPath, reason: "no PVH entry note")
        }
        let kernelEnd = try image.load(context.kernel, into: context.memory, path: context.kernelPath)

        let commandLine = Array(context.commandLine.utf8) + [0]
        guard commandLine.count <= commandLineLimit else {
            throw .invalidConfiguration("the kernel command line is longer than \(commandLineLimit - 1) bytes")
        }
        try context.memory.write(commandLine, at: commandLineAddress)

        var memoryMap: [UInt8] = []
        for entry in context.e820 {
            var record = ByteWriter(size: 24)
            record.set(entry.address, at: 0)
            record.set(entry.size, at: 8)
            record.set(entry.type.rawValue, at: 16)
            memoryMap += record.bytes
        }
        guard memoryMapAddress + UInt64(memoryMap.count) <= moduleListAddress else {
            throw .invalidConfiguration("the guest memory map has too many entries")
        }
        try context.memory.write(memoryMap, at: memoryMapAddress)

        var startInfo = ByteWriter(size: 56)
        startInfo.set(startInfoMagic, at: 0)
        startInfo.set(UInt32(1), at: 4)
        startInfo.set(UInt64(commandLineAddress), at: 24)
        startInfo.set(context.rsdpAddress, at: 32)
        startInfo.set(memoryMapAddress, at: 40)
        startInfo.set(UInt32(context.e820.count), at: 48)
        if let initrd = context.initrd {
            guard let address = BootLoader.placeHigh(
                size: initrd.count, floor: BootLoader.alignUp(kernelEnd, 4096),
                limit: GuestMemoryMap.mmioHoleStart, memory: context.memory)
            else { throw BootLoader.tooSmall(context, "the kernel and its initrd") }
            try context.memory.write(initrd, at: address)
            var module = ByteWriter(size: 32)
            module.set(address, at: 0)
            module.set(UInt64(initrd.count), at: 8)
            try context.memory.write(module.bytes, at: moduleListAddress)
            startInfo.set(UInt32(1), at: 12)
            startInfo.set(moduleListAddress, at: 16)
        }
        try context.memory.write(startInfo.bytes, at: startInfoAddress)
        return .protectedMode(eip: entry, eax: 0, ebx: UInt32(startInfoAddress))
    }
}
