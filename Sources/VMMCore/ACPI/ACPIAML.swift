/// Encoders for the few AML constructs the DSDT needs (ACPI 6.3 §20.2).
///
/// Every function returns complete AML bytes, so terms compose by concatenation.
enum ACPIAML {
    private enum Opcode {
        static let zero: UInt8 = 0x00
        static let one: UInt8 = 0x01
        static let name: UInt8 = 0x08
        static let bytePrefix: UInt8 = 0x0a
        static let wordPrefix: UInt8 = 0x0b
        static let dwordPrefix: UInt8 = 0x0c
        static let qwordPrefix: UInt8 = 0x0e
        static let scope: UInt8 = 0x10
        static let buffer: UInt8 = 0x11
        static let package: UInt8 = 0x12
        static let dualNamePrefix: UInt8 = 0x2e
        static let multiNamePrefix: UInt8 = 0x2f
        static let rootChar: UInt8 = 0x5c
        static let extPrefix: UInt8 = 0x5b
        static let device: UInt8 = 0x82
        static let stringPrefix: UInt8 = 0x0d
        static let method: UInt8 = 0x14
        static let notify: UInt8 = 0x86
    }

    /// A string constant (ASCII, NUL-terminated).
    static func string(_ text: String) -> [UInt8] {
        precondition(text.utf8.allSatisfy { $0 > 0 && $0 < 0x80 }, "AML strings are ASCII")
        return [Opcode.stringPrefix] + Array(text.utf8) + [0]
    }

    /// `Method(name, 0, NotSerialized) { terms }`.
    static func method(_ name: String, _ terms: [[UInt8]]) -> [UInt8] {
        [Opcode.method] + withPkgLength(nameString(name) + [0] + terms.flatMap { $0 })
    }

    /// `Notify(path, value)`.
    static func notify(_ path: String, _ value: UInt64) -> [UInt8] {
        [Opcode.notify] + nameString(path) + integer(value)
    }

    /// `Name(path, value)`.
    static func name(_ path: String, _ value: [UInt8]) -> [UInt8] {
        [Opcode.name] + nameString(path) + value
    }

    /// `Scope(path) { terms }`.
    static func scope(_ path: String, _ terms: [[UInt8]]) -> [UInt8] {
        [Opcode.scope] + withPkgLength(nameString(path) + terms.flatMap { $0 })
    }

    /// `Device(name) { terms }`.
    static func device(_ name: String, _ terms: [[UInt8]]) -> [UInt8] {
        [Opcode.extPrefix, Opcode.device] + withPkgLength(nameString(name) + terms.flatMap { $0 })
    }

    /// `Package() { elements }`.
    static func package(_ elements: [[UInt8]]) -> [UInt8] {
        precondition(elements.count <= 255, "NumElements is one byte")
        return [Opcode.package] + withPkgLength([UInt8(elements.count)] + elements.flatMap { $0 })
    }

    /// `Buffer() { bytes }`.
    static func buffer(_ bytes: [UInt8]) -> [UInt8] {
        [Opcode.buffer] + withPkgLength(integer(UInt64(bytes.count)) + bytes)
    }

    /// The shortest integer encoding: ZeroOp, OneOp or a Byte/Word/DWord/QWordConst.
    static func integer(_ value: UInt64) -> [UInt8] {
        switch value {
        case 0: [Opcode.zero]
        case 1: [Opcode.one]
        case ...0xff: [Opcode.bytePrefix] + littleEndian(value, bytes: 1)
        case ...0xffff: [Opcode.wordPrefix] + littleEndian(value, bytes: 2)
        case ...0xffff_ffff: [Opcode.dwordPrefix] + littleEndian(value, bytes: 4)
        default: [Opcode.qwordPrefix] + littleEndian(value, bytes: 8)
        }
    }

    /// What ASL's `EISAID("PNP0501")` compiles to: three letters packed into five bits
    /// each and four hex digits, stored big-endian in a DWordConst.
    static func eisaID(_ id: String) -> [UInt8] {
        let chars = Array(id.utf8)
        precondition(chars.count == 7, "EISA ids look like PNP0501: \(id)")
        let vendor = chars[0..<3].reduce(UInt16(0)) { packed, letter in
            precondition((0x41...0x5a).contains(letter), "EISA vendor letters are A-Z: \(id)")
            return packed << 5 | UInt16(letter - 0x40)
        }
        let product = chars[3..<7].reduce(UInt16(0)) { packed, digit in
            guard let nibble = Int(String(UnicodeScalar(digit)), radix: 16) else {
                preconditionFailure("EISA product ids are hex: \(id)")
            }
            return packed << 4 | UInt16(nibble)
        }
        let value = UInt32(vendor) << 16 | UInt32(product)
        return [Opcode.dwordPrefix] + littleEndian(UInt64(value.byteSwapped), bytes: 4)
    }

    /// A NameString: an optional leading `\` and dot-separated segments of up to four
    /// characters, padded with `_`.
    static func nameString(_ path: String) -> [UInt8] {
        var rest = Substring(path)
        var prefix: [UInt8] = []
        if rest.first == "\\" {
            prefix = [Opcode.rootChar]
            rest = rest.dropFirst()
        }
        let segments = rest.split(separator: ".", omittingEmptySubsequences: false).map(nameSegment)
        switch segments.count {
        case 1: return prefix + segments[0]
        case 2: return prefix + [Opcode.dualNamePrefix] + segments.flatMap { $0 }
        default:
            precondition(segments.count <= 255)
            return prefix + [Opcode.multiNamePrefix, UInt8(segments.count)] + segments.flatMap { $0 }
        }
    }

    /// The PkgLength for `contentLength` bytes of content. The encoded length counts
    /// the PkgLength bytes themselves, which is why 63 bytes of content already need
    /// the two-byte form.
    static func pkgLength(containing contentLength: Int) -> [UInt8] {
        if contentLength + 1 <= 0x3f {
            return [UInt8(contentLength + 1)]
        }
        // Multi-byte forms: bits 7–6 of the lead byte count the bytes that follow, its
        // low nibble holds the least significant bits and each following byte eight more.
        for following in 1...3 {
            let total = contentLength + 1 + following
            if total < 1 << (4 + 8 * following) {
                var encoded = [UInt8(following << 6) | UInt8(total & 0xf)]
                for index in 0..<following {
                    encoded.append(UInt8(truncatingIfNeeded: total >> (4 + 8 * index)))
                }
                return encoded
            }
        }
        preconditionFailure("AML packages are limited to 2^28 bytes")
    }

    private static func withPkgLength(_ content: [UInt8]) -> [UInt8] {
        pkgLength(containing: content.count) + content
    }

    private static func nameSegment(_ segment: Substring) -> [UInt8] {
        let chars = Array(segment.utf8)
        precondition(
            (1...4).contains(chars.count)
                && chars.allSatisfy { (0x41...0x5a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5f }
                && !(0x30...0x39).contains(chars[0]),
            "invalid AML name segment: \(segment)")
        return chars + Array(repeating: 0x5f, count: 4 - chars.count)
    }

    private static func littleEndian(_ value: UInt64, bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
