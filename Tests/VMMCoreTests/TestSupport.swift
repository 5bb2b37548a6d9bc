import Synchronization
@testable import VMMCore

// Shared fixtures for the VMMCore unit tests: synthetic kernel images, and recorders
// standing in for an interrupt controller and the serial console.

/// Little-endian writes into a growable byte array, for building synthetic images.
struct ImageBytes {
    var bytes: [UInt8]

    init(count: Int) { bytes = [UInt8](repeating: 0, count: count) }

    mutating func set<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        if bytes.count < offset + MemoryLayout<T>.size {
            bytes += [UInt8](repeating: 0, count: offset + MemoryLayout<T>.size - bytes.count)
        }
        withUnsafeBytes(of: value.littleEndian) { source in
            for (index, byte) in source.enumerated() { bytes[offset + index] = byte }
        }
    }

    mutating func set(_ data: [UInt8], at offset: Int) {
        if bytes.count < offset + data.count {
            bytes += [UInt8](repeating: 0, count: offset + data.count - bytes.count)
        }
        bytes.replaceSubrange(offset..<offset + data.count, with: data)
    }
}

/// A recognizable, non-repeating-looking byte pattern.
func pattern(count: Int, seed: UInt8 = 1) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed) &+ ($0 >> 8)) }
}

enum SyntheticKernel {
    /// A minimal bzImage: real-mode setup sectors carrying the setup header, then `payload`
    /// as the protected-mode kernel.
    static func bzImage(
        setupSectors: UInt8 = 4, version: UInt16 = 0x020f, xloadflags: UInt16 = 0x1,
        commandLineSize: UInt32 = 2047, initSize: UInt32 = 0x40_0000, initrdAddressMax: UInt32 = 0x37ff_ffff,
        payload: [UInt8]
    ) -> [UInt8] {
        let setupSize = (Int(setupSectors) + 1) * 512
        var image = ImageBytes(count: setupSize)
        image.set(setupSectors, at: 0x1f1)
        image.set(UInt16(0xAA55), at: 0x1fe)
        image.set(UInt8(0xEB), at: 0x200)  // jmp over the header
        image.set(UInt8(0x66), at: 0x201)  // header ends at 0x268
        image.set(Array("HdrS".utf8), at: 0x202)
        image.set(version, at: 0x206)
        image.set(UInt8(0x01), at: 0x211)  // loadflags: LOADED_HIGH
        image.set(initrdAddressMax, at: 0x22c)
        image.set(xloadflags, at: 0x236)
        image.set(commandLineSize, at: 0x238)
        image.set(initSize, at: 0x260)
        return image.bytes + payload
    }

    struct Program {
        var type: UInt32 = ELFImage.loadType
        var fileOffset: Int
        var address: UInt64
        var fileSize: Int
        var memorySize: UInt64
    }

    /// An ELF executable with the given program headers (right after the ELF header) and
    /// `contents` placed at their file offsets.
    static func elf(
        is64: Bool, machine: UInt16, entry: UInt64, programs: [Program],
        contents: [(offset: Int, bytes: [UInt8])], fileSize: Int? = nil
    ) -> [UInt8] {
        let headerSize = is64 ? 64 : 52
        let programHeaderSize = is64 ? 56 : 32
        var file = ImageBytes(count: headerSize + programs.count * programHeaderSize)
        file.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1], at: 0)
        file.set(UInt16(2), at: 16)  // ET_EXEC
        file.set(machine, at: 18)
        file.set(UInt32(1), at: 20)
        if is64 {
            file.set(entry, at: 24)
            file.set(UInt64(headerSize), at: 32)
            file.set(UInt16(headerSize), at: 52)
            file.set(UInt16(programHeaderSize), at: 54)
            file.set(UInt16(programs.count), at: 56)
        } else {
            file.set(UInt32(entry), at: 24)
            file.set(UInt32(headerSize), at: 28)
            file.set(UInt16(headerSize), at: 40)
            file.set(UInt16(programHeaderSize), at: 42)
            file.set(UInt16(programs.count), at: 44)
        }
        for (index, program) in programs.enumerated() {
            let at = headerSize + index * programHeaderSize
            file.set(program.type, at: at)
            if is64 {
                file.set(UInt64(program.fileOffset), at: at + 8)
                file.set(program.address, at: at + 16)
                file.set(program.address, at: at + 24)
                file.set(UInt64(program.fileSize), at: at + 32)
                file.set(program.memorySize, at: at + 40)
            } else {
                file.set(UInt32(program.fileOffset), at: at + 4)
                file.set(UInt32(program.address), at: at + 8)
                file.set(UInt32(program.address), at: at + 12)
                file.set(UInt32(program.fileSize), at: at + 16)
                file.set(UInt32(program.memorySize), at: at + 20)
            }
        }
        for content in contents { file.set(content.bytes, at: content.offset) }
        if let fileSize, file.bytes.count < fileSize {
            file.bytes += [UInt8](repeating: 0, count: fileSize - file.bytes.count)
        }
        return file.bytes
    }

    /// A Multiboot v1 header with flags 0 and a valid checksum.
    static let multibootHeader: [UInt8] = {
        var header = ImageBytes(count: 12)
        header.set(UInt32(0x1BAD_B002), at: 0)
        header.set(UInt32(0), at: 4)
        header.set(UInt32(0) &- 0x1BAD_B002, at: 8)
        return header.bytes
    }()

    /// One ELF note record (name NUL-terminated and padded, descriptor padded to 4 bytes).
    static func note(name: String, type: UInt32, descriptor: [UInt8]) -> [UInt8] {
        let nameBytes = Array(name.utf8) + [0]
        var note = ImageBytes(count: 12)
        note.set(UInt32(nameBytes.count), at: 0)
        note.set(UInt32(descriptor.count), at: 4)
        note.set(type, at: 8)
        var bytes = note.bytes + nameBytes
        while bytes.count % 4 != 0 { bytes.append(0) }
        bytes += descriptor
        while bytes.count % 4 != 0 { bytes.append(0) }
        return bytes
    }
}

extension GuestMemory {
    func cString(at address: UInt64, limit: Int = 4096) -> String? {
        var bytes: [UInt8] = []
        var at = address
        while bytes.count < limit, let byte = read(UInt8.self, at: at) {
            if byte == 0 { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
            at += 1
        }
        return nil
    }
}

func bootContext(
    kernel: [UInt8], path: String = "/images/kernel", initrd: [UInt8]? = nil, commandLine: String = "",
    memory: GuestMemory, rsdpAddress: UInt64 = GuestMemoryMap.acpiTablesStart
) -> BootContext {
    BootContext(
        kernel: kernel, kernelPath: path, initrd: initrd, commandLine: commandLine, memory: memory,
        e820: GuestMemoryMap.e820(size: memory.size), rsdpAddress: rsdpAddress)
}

/// An interrupt line that records every level change.
final class RecordingInterruptLine: InterruptLine {
    private let levels = Mutex<[Bool]>([])

    func set(high: Bool) { levels.withLock { $0.append(high) } }

    /// Every level the device drove, in order.
    var history: [Bool] { levels.withLock { $0 } }
    /// Completed edges: a high followed by a low.
    var pulses: Int {
        let history = history
        return zip(history, history.dropFirst()).filter { $0 && !$1 }.count
    }
    var isHigh: Bool { history.last ?? false }
}

/// Collects what a device transmits.
final class OutputRecorder: Sendable {
    private let storage = Mutex<[UInt8]>([])
    var bytes: [UInt8] { storage.withLock { $0 } }
    var sink: @Sendable (UInt8) -> Void { { [self] byte in storage.withLock { $0.append(byte) } } }
}
