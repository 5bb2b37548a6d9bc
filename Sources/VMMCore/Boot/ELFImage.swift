/// The parts of an ELF file a boot loader needs: loadable segments and notes.
///
/// Every offset and size read from the file is checked against the file, since a
/// kernel image is user input.
struct ELFImage {
    struct Segment {
        let physicalAddress: UInt64
        let fileOffset: Int
        let fileSize: Int
        let memorySize: UInt64
    }

    struct Note {
        let name: String
        let type: UInt32
        let descriptor: ArraySlice<UInt8>
    }

    enum Class { case elf32, elf64 }

    static let loadType: UInt32 = 1
    static let noteType: UInt32 = 4
    static let machineI386: UInt16 = 3
    static let machineX86_64: UInt16 = 62

    let elfClass: Class
    let machine: UInt16
    let entry: UInt64
    let loadSegments: [Segment]
    let notes: [Note]

    static func isELF(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x7f && bytes[1] == 0x45 && bytes[2] == 0x4c && bytes[3] == 0x46
    }

    init(_ bytes: [UInt8], path: String) throws(VMMError) {
        let file = ByteReader(bytes)
        func invalid(_ reason: String) -> VMMError { .invalidImage(path: path, reason: "malformed ELF file: \(reason)") }
        guard Self.isELF(bytes), bytes.count >= 52 else { throw invalid("too short") }
        guard bytes[5] == 1 else { throw invalid("not little-endian") }
        switch bytes[4] {
        case 1: elfClass = .elf32
        case 2: elfClass = .elf64
        default: throw invalid("unknown ELF class \(bytes[4])")
        }
        let is64 = elfClass == .elf64
        guard let machine = file.u16(18) else { throw invalid("no header") }
        self.machine = machine
        guard let entry = is64 ? file.u64(24) : file.u32(24).map(UInt64.init),
              let tableOffset = is64 ? file.u64(32) : file.u32(28).map(UInt64.init),
              let entrySize = file.u16(is64 ? 54 : 42), let count = file.u16(is64 ? 56 : 44)
        else { throw invalid("truncated header") }
        self.entry = entry
        guard entrySize >= (is64 ? 56 : 32) else { throw invalid("program header entries too small") }
        var segments: [Segment] = []
        var notes: [Note] = []
        for index in 0..<Int(count) {
            let (base, overflow) = tableOffset.addingReportingOverflow(UInt64(index) * UInt64(entrySize))
            guard !overflow, base < UInt64(bytes.count), let at = Int(exactly: base) else {
                throw invalid("program header \(index) lies outside the file")
            }
            guard let type = file.u32(at),
                  let offset = is64 ? file.u64(at + 8) : file.u32(at + 4).map(UInt64.init),
                  let physical = is64 ? file.u64(at + 24) : file.u32(at + 12).map(UInt64.init),
                  let fileSize = is64 ? file.u64(at + 32) : file.u32(at + 16).map(UInt64.init),
                  let memorySize = is64 ? file.u64(at + 40) : file.u32(at + 20).map(UInt64.init)
            else { throw invalid("program header \(index) is truncated") }
            guard type == Self.loadType || type == Self.noteType else { continue }
            guard offset <= UInt64(bytes.count), fileSize <= UInt64(bytes.count) - offset else {
                throw invalid("segment \(index) extends past the end of the file")
            }
            if type == Self.loadType {
                guard fileSize <= memorySize else { throw invalid("segment \(index) has more file data than memory") }
                if memorySize > 0 {
                    segments.append(Segment(
                        physicalAddress: physical, fileOffset: Int(offset), fileSize: Int(fileSize),
                        memorySize: memorySize))
                }
            } else {
                notes += Self.parseNotes(file, from: Int(offset), count: Int(fileSize))
            }
        }
        loadSegments = segments
        self.notes = notes
    }

    private static func parseNotes(_ file: ByteReader, from start: Int, count: Int) -> [Note] {
        var notes: [Note] = []
        var at = start
        let end = start + count
        func aligned(_ value: Int) -> Int { (value + 3) & ~3 }
        while at + 12 <= end, let nameSize = file.u32(at), let descSize = file.u32(at + 4),
              let type = file.u32(at + 8) {
            let nameStart = at + 12
            let descStart = nameStart + aligned(Int(nameSize))
            let next = descStart + aligned(Int(descSize))
            guard nameSize < 4096, descSize < 1 << 20, next <= end else { break }
            let nameBytes = file.bytes[nameStart..<nameStart + Int(nameSize)].prefix { $0 != 0 }
            notes.append(Note(
                name: String(decoding: nameBytes, as: UTF8.self), type: type,
                descriptor: file.bytes[descStart..<descStart + Int(descSize)]))
            at = next
        }
        return notes
    }

    /// Copies every loadable segment to its physical address and zero-fills past its file data.
    /// Returns the end of the highest segment.
    func load(_ bytes: [UInt8], into memory: GuestMemory, path: String) throws(VMMError) -> UInt64 {
        var end: UInt64 = 0
        for segment in loadSegments {
            guard segment.memorySize <= UInt64(Int.max),
                  let destination = memory.pointer(at: segment.physicalAddress, count: Int(segment.memorySize))
            else {
                throw .invalidConfiguration(
                    "\(path): a segment at 0x\(String(segment.physicalAddress, radix: 16)) of "
                        + "\(segment.memorySize) bytes does not fit in guest RAM: give the VM more memory (--memory)")
            }
            bytes.withUnsafeBytes { source in
                destination.copyMemory(from: source.baseAddress! + segment.fileOffset, byteCount: segment.fileSize)
            }
            (destination + segment.fileSize).initializeMemory(
                as: UInt8.self, repeating: 0, count: Int(segment.memorySize) - segment.fileSize)
            end = max(end, segment.physicalAddress + segment.memorySize)
        }
        return end
    }
}
