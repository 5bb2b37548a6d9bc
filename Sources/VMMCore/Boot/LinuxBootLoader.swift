/// The Linux x86 boot protocol for a bzImage, entered at its 64-bit entry point.
///
/// Builds the zero page (`boot_params`: setup header, e820 map, command line and initrd
/// pointers, RSDP), loads the protected-mode kernel at 1 MiB and identity-maps the first
/// 4 GiB so the kernel, zero page, command line and initrd are all reachable.
enum LinuxBootLoader {
    static let zeroPageAddress: UInt64 = 0x7000
    static let commandLineAddress: UInt64 = 0x2_0000
    static let pageTableRoot: UInt64 = 0x9000
    static let kernelAddress: UInt64 = 0x10_0000
    static let minimumProtocolVersion: UInt16 = 0x020c  // 64-bit entry, xloadflags
    static let maximumE820Entries = 128

    static func isBzImage(_ bytes: [UInt8]) -> Bool {
        let file = ByteReader(bytes)
        return file.u16(0x1fe) == 0xAA55 && file.u32(0x202) == 0x5372_6448  // "HdrS"
    }

    static func load(_ context: BootContext) throws(VMMError) -> EntryPoint {
        let file = ByteReader(context.kernel)
        func invalid(_ reason: String) -> VMMError { .invalidImage(path: context.kernelPath, reason: reason) }
        guard let version = file.u16(0x206), version >= minimumProtocolVersion else {
            throw invalid("boot protocol older than 2.12: vmm needs a kernel with a 64-bit entry (Linux 3.8 or newer)")
        }
        guard let xloadflags = file.u16(0x236), xloadflags & 0x1 != 0 else {
            throw invalid("this bzImage has no 64-bit entry point (XLF_KERNEL_64): build an x86_64 kernel")
        }
        let setupSectors = Int(file.u8(0x1f1) ?? 0)
        let setupSize = (setupSectors == 0 ? 4 : setupSectors) * 512 + 512
        guard setupSize < context.kernel.count, let initSize = file.u32(0x260),
              let commandLineLimit = file.u32(0x238)
        else { throw invalid("truncated setup header") }

        let protectedModeKernel = context.kernel[setupSize...]
        let kernelEnd = kernelAddress + UInt64(max(Int(initSize), protectedModeKernel.count))
        guard context.memory.contains(kernelAddress, count: Int(kernelEnd - kernelAddress)) else {
            throw BootLoader.tooSmall(context, "this kernel (it needs \(kernelEnd >> 20) MiB to decompress)")
        }
        try context.memory.write(protectedModeKernel, at: kernelAddress)

        let commandLine = Array(context.commandLine.utf8)
        // The command line must also end below the BIOS area, where the ACPI tables live.
        let limit = min(Int(commandLineLimit), Int(GuestMemoryMap.lowMemoryEnd - commandLineAddress) - 1)
        guard commandLine.count <= limit else {
            throw .invalidConfiguration(
                "the kernel command line is \(commandLine.count) bytes; this kernel accepts at most \(limit)")
        }
        try context.memory.write(commandLine + [0], at: commandLineAddress)

        // The zero page starts as a copy of the setup header, then the loader's fields.
        var zeroPage = ByteWriter(size: 4096)
        let headerEnd = min(0x202 + Int(file.u8(0x201) ?? 0), context.kernel.count, 0x290)
        for offset in 0x1f1..<headerEnd { zeroPage.set(context.kernel[offset], at: offset) }
        zeroPage.set(UInt8(0xff), at: 0x210)  // type_of_loader: undefined
        zeroPage.set((file.u8(0x211) ?? 0) | 0x80, at: 0x211)  // loadflags: CAN_USE_HEAP
        zeroPage.set(UInt16(0xe000 - 0x200), at: 0x224)  // heap_end_ptr
        zeroPage.set(UInt32(commandLineAddress), at: 0x228)
        zeroPage.set(UInt32(0), at: 0xc8)  // ext_cmd_line_ptr
        zeroPage.set(context.rsdpAddress, at: 0x70)  // acpi_rsdp_addr

        if let initrd = context.initrd {
            let initrdLimit = UInt64(file.u32(0x22c) ?? 0x37ff_ffff) + 1
            guard let address = BootLoader.placeHigh(
                size: initrd.count, floor: BootLoader.alignUp(kernelEnd, 4096),
                limit: min(initrdLimit, GuestMemoryMap.mmioHoleStart), memory: context.memory)
            else { throw BootLoader.tooSmall(context, "the kernel and its initrd") }
            try context.memory.write(initrd, at: address)
            zeroPage.set(UInt32(truncatingIfNeeded: address), at: 0x218)
            zeroPage.set(UInt32(truncatingIfNeeded: initrd.count), at: 0x21c)
            zeroPage.set(UInt32(truncatingIfNeeded: address >> 32), at: 0xc0)
            zeroPage.set(UInt32(truncatingIfNeeded: UInt64(initrd.count) >> 32), at: 0xc4)
        }

        let entries = context.e820.prefix(maximumE820Entries)
        zeroPage.set(UInt8(entries.count), at: 0x1e8)
        for (index, entry) in entries.enumerated() {
            let at = 0x2d0 + index * 20
            zeroPage.set(entry.address, at: at)
            zeroPage.set(entry.size, at: at + 8)
            zeroPage.set(entry.type.rawValue, at: at + 16)
        }
        try context.memory.write(zeroPage.bytes, at: zeroPageAddress)
        try writeIdentityMap(context.memory)
        return .longMode(rip: kernelAddress + 0x200, rsi: zeroPageAddress, pageTableRoot: pageTableRoot)
    }

    /// PML4 → one PDPT → four page directories of 2 MiB pages: 0 to 4 GiB, identity-mapped.
    static func writeIdentityMap(_ memory: GuestMemory) throws(VMMError) {
        let pdpt = pageTableRoot + 0x1000
        let firstDirectory = pageTableRoot + 0x2000
        let present: UInt64 = 0x3  // present, writable
        try memory.write(pdpt | present, at: pageTableRoot)
        for directory in 0..<UInt64(4) {
            let directoryAddress = firstDirectory + directory * 0x1000
            try memory.write(directoryAddress | present, at: pdpt + directory * 8)
            for entry in 0..<UInt64(512) {
                let physical = (directory * 512 + entry) << 21
                try memory.write(physical | present | 0x80, at: directoryAddress + entry * 8)
            }
        }
    }
}
