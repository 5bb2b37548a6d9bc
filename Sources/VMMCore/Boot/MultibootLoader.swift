/// Multiboot v1 for ELF32 kernels: the test-kernel contract (also QEMU's `-kernel`).
///
/// vCPU 0 enters at the ELF entry in 32-bit protected mode with EAX = 0x2BADB002 and
/// EBX = the info block, which holds the memory sizes and map, the command line (the
/// kernel's file name first) and, with an initrd, exactly one module.
enum MultibootLoader {
    static let headerMagic: UInt32 = 0x1BAD_B002
    static let bootloaderMagic: UInt32 = 0x2BAD_B002
    /// The header must lie 4-byte aligned in the first 8 KiB of the file.
    static let searchLimit = 8192
    /// The info block and everything it points to goes above the BIOS area (so above the
    /// first 64 KiB too), after the image.
    static let lowestInfoAddress = GuestMemoryMap.biosAreaEnd
    static let headerSize = 12

    static func header(in kernel: [UInt8]) -> (offset: Int, flags: UInt32)? {
        let file = ByteReader(kernel)
        for offset in stride(from: 0, through: min(kernel.count, searchLimit) - headerSize, by: 4) {
            guard let magic = file.u32(offset), magic == headerMagic,
                  let flags = file.u32(offset + 4), let checksum = file.u32(offset + 8),
                  magic &+ flags &+ checksum == 0
            else { continue }
            return (offset, flags)
        }
        return nil
    }

    static func load(_ context: BootContext) throws(VMMError) -> EntryPoint {
        let image = try ELFImage(context.kernel, path: context.kernelPath)
        guard image.machine == ELFImage.machineI386 else {
            throw .invalidImage(path: context.kernelPath, reason: "Multiboot kernels must be ELF32 for i386")
        }
        guard !image.loadSegments.isEmpty else {
            throw .invalidImage(path: context.kernelPath, reason: "the ELF file has no loadable segments")
        }
        let imageEnd = try image.load(context.kernel, into: context.memory, path: context.kernelPath)
        guard image.entry <= UInt32.max else {
            throw .invalidImage(path: context.kernelPath, reason: "entry point above 4 GiB")
        }

        let fileName = context.kernelPath.split(separator: "/").last.map(String.init) ?? context.kernelPath
        let commandLine = context.commandLine.isEmpty ? fileName : "\(fileName) \(context.commandLine)"
        var info = ByteWriter(size: 120)
        var trailer: [UInt8] = []
        let infoAddress = BootLoader.alignUp(max(imageEnd, lowestInfoAddress), 4096)
        func nextAddress() -> UInt64 { infoAddress + 120 + UInt64(trailer.count) }

        let memoryBelowHole = context.memory.regions[0].end
        let flags: UInt32 = 1 << 0 | 1 << 2 | 1 << 3 | 1 << 6 | 1 << 9
        info.set(UInt32(GuestMemoryMap.lowMemoryEnd / 1024), at: 4)
        info.set(UInt32((memoryBelowHole - GuestMemoryMap.biosAreaEnd) / 1024), at: 8)

        let commandLineAddress = nextAddress()
        trailer += Array(commandLine.utf8) + [0]
        info.set(UInt32(commandLineAddress), at: 16)

        let loaderNameAddress = nextAddress()
        trailer += Array("vmm".utf8) + [0]
        info.set(UInt32(loaderNameAddress), at: 64)

        while trailer.count % 8 != 0 { trailer.append(0) }
        let mapAddress = nextAddress()
        for entry in context.e820 {
            var record = ByteWriter(size: 24)
            record.set(UInt32(20), at: 0)
            record.set(entry.address, at: 4)
            record.set(entry.size, at: 12)
            record.set(entry.type.rawValue, at: 20)
            trailer += record.bytes
        }
        info.set(UInt32(context.e820.count * 24), at: 44)
        info.set(UInt32(mapAddress), at: 48)

        var moduleListAddress = nextAddress()
        var moduleCount: UInt32 = 0
        var moduleRecord = ByteWriter(size: 16)
        if let initrd = context.initrd {
            let nameAddress = nextAddress()
            trailer += Array("initrd".utf8) + [0]
            moduleListAddress = nextAddress()
            trailer += [UInt8](repeating: 0, count: 16)
            let moduleAddress = BootLoader.alignUp(nextAddress(), 4096)
            guard moduleAddress + UInt64(initrd.count) <= memoryBelowHole else {
                throw BootLoader.tooSmall(context, "the kernel and its initrd")
            }
            try context.memory.write(initrd, at: moduleAddress)
            moduleRecord.set(UInt32(moduleAddress), at: 0)
            moduleRecord.set(UInt32(moduleAddress + UInt64(initrd.count)), at: 4)
            moduleRecord.set(UInt32(nameAddress), at: 8)
            moduleCount = 1
        }
        info.set(moduleCount, at: 20)
        info.set(UInt32(moduleListAddress), at: 24)
        info.set(flags, at: 0)

        guard infoAddress + 120 + UInt64(trailer.count) <= memoryBelowHole else {
            throw BootLoader.tooSmall(context, "the kernel and its boot information")
        }
        try context.memory.write(info.bytes, at: infoAddress)
        try context.memory.write(trailer, at: infoAddress + 120)
        if moduleCount == 1 {
            try context.memory.write(moduleRecord.bytes, at: moduleListAddress)
        }
        return .protectedMode(eip: UInt32(image.entry), eax: bootloaderMagic, ebx: UInt32(infoAddress))
    }
}
