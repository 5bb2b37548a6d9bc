/// What a boot protocol needs to start a guest: the kernel, its inputs and the machine's
/// memory map.
public struct BootContext {
    let kernel: [UInt8]
    let kernelPath: String
    let initrd: [UInt8]?
    let commandLine: String
    let memory: GuestMemory
    let e820: [E820Entry]
    let rsdpAddress: UInt64
}

/// Recognizes the kernel's format and loads it by the matching boot protocol.
public enum BootLoader {
    /// The boot protocols vmm speaks.
    public enum BootProtocol: String, Sendable {
        case multiboot, pvh, linux
    }

    /// Which protocol boots `kernel`, or why none does.
    public static func detect(_ kernel: [UInt8], path: String) throws(VMMError) -> BootProtocol {
        if LinuxBootLoader.isBzImage(kernel) { return .linux }
        guard ELFImage.isELF(kernel) else {
            throw .invalidImage(
                path: path,
                reason: "not a kernel vmm can boot (expected a Linux bzImage, an ELF vmlinux with "
                    + "a PVH entry note, or a Multiboot ELF)")
        }
        let image = try ELFImage(kernel, path: path)
        if image.elfClass == .elf32 && MultibootLoader.header(in: kernel) != nil { return .multiboot }
        if PVHLoader.entryAddress(of: image) != nil { return .pvh }
        throw .invalidImage(
            path: path,
            reason: "ELF file has neither a Multiboot header nor a PVH entry note "
                + "(build Linux with CONFIG_PVH=y, or boot its bzImage)")
    }

    static func load(_ context: BootContext) throws(VMMError) -> EntryPoint {
        switch try detect(context.kernel, path: context.kernelPath) {
        case .multiboot: return try MultibootLoader.load(context)
        case .pvh: return try PVHLoader.load(context)
        case .linux: return try LinuxBootLoader.load(context)
        }
    }

    static func alignUp(_ value: UInt64, _ alignment: UInt64) -> UInt64 {
        (value + alignment - 1) & ~(alignment - 1)
    }

    /// The highest page-aligned place for `size` bytes that ends below `limit` and above
    /// `floor`, in RAM below the MMIO hole (initrds go high, out of the kernel's way).
    static func placeHigh(size: Int, floor: UInt64, limit: UInt64, memory: GuestMemory) -> UInt64? {
        let top = min(limit, memory.regions[0].end)
        guard UInt64(size) <= top else { return nil }
        let address = (top - UInt64(size)) & ~0xfff
        return address >= floor ? address : nil
    }

    static func tooSmall(_ context: BootContext, _ what: String) -> VMMError {
        .invalidConfiguration(
            "\(context.memory.size >> 20) MiB of guest memory is too small for \(what): "
                + "give the VM more memory (--memory)")
    }
}
