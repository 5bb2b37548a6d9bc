/// Reads what `StateEncoder` wrote. Every read is bounds-checked: a damaged stream fails
/// with the section it was in, never with a trap.
public struct StateDecoder: Sendable {
    private let bytes: [UInt8]
    private var position: Int
    private let end: Int
    private let context: String

    public init(_ bytes: [UInt8], context: String = "state") {
        self.init(bytes, range: 0..<bytes.count, context: context)
    }

    private init(_ bytes: [UInt8], range: Range<Int>, context: String) {
        self.bytes = bytes
        position = range.lowerBound
        end = range.upperBound
        self.context = context
    }

    public var isAtEnd: Bool { position == end }

    public mutating func read<T: FixedWidthInteger>(_: T.Type) throws(VMMError) -> T {
        let size = MemoryLayout<T>.size
        try need(size)
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { target in
            for index in 0..<size { target[index] = bytes[position + index] }
        }
        position += size
        return T(littleEndian: value)
    }

    public mutating func readBool() throws(VMMError) -> Bool {
        let value = try read(UInt8.self)
        guard value <= 1 else { throw malformed("a flag holds \(value)") }
        return value == 1
    }

    public mutating func readBytes() throws(VMMError) -> [UInt8] {
        let count = Int(try read(UInt32.self))
        try need(count)
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    public mutating func readString() throws(VMMError) -> String {
        String(decoding: try readBytes(), as: UTF8.self)
    }

    /// A C struct written by `appendRaw`; its size must match this build's layout.
    public mutating func readRaw<T>(_: T.Type) throws(VMMError) -> T {
        precondition(_isPOD(T.self), "only plain C structs are restored byte for byte")
        let raw = try readBytes()
        guard raw.count == MemoryLayout<T>.size else {
            throw malformed("a \(T.self) of \(raw.count) bytes, expected \(MemoryLayout<T>.size)")
        }
        return raw.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }

    /// Reads the section `name`; `body` must consume all of it.
    public mutating func section<Result>(
        _ name: String, _ body: (inout StateDecoder) throws(VMMError) -> Result
    ) throws(VMMError) -> Result {
        let found = try readString()
        guard found == name else { throw malformed("section '\(found)' where '\(name)' was expected") }
        let count = Int(try read(UInt32.self))
        try need(count)
        var inner = StateDecoder(bytes, range: position..<position + count, context: "\(context)/\(name)")
        let result = try body(&inner)
        guard inner.isAtEnd else { throw inner.malformed("\(inner.end - inner.position) bytes left over") }
        position += count
        return result
    }

    public func malformed(_ reason: String) -> VMMError {
        .invalidSnapshot("the saved state is malformed in '\(context)': \(reason)")
    }

    private func need(_ count: Int) throws(VMMError) {
        guard count >= 0, end - position >= count else { throw malformed("it ends early") }
    }
}
