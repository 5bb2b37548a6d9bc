/// Writes machine state as a flat little-endian byte stream of named sections.
///
/// The format is versioned as a whole (`SnapshotFormat.version`): a field added, removed or
/// reordered anywhere means a new version, which older vmm binaries refuse.
public struct StateEncoder: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(_ value: Bool) { append(UInt8(value ? 1 : 0)) }

    /// A length-prefixed run of bytes.
    public mutating func append(bytes value: some Collection<UInt8>) {
        append(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    public mutating func append(_ value: String) { append(bytes: Array(value.utf8)) }

    /// A plain C struct (a KVM state structure), byte for byte, length-prefixed so that a
    /// layout change is caught on restore.
    public mutating func appendRaw<T>(_ value: T) {
        precondition(_isPOD(T.self), "only plain C structs are saved byte for byte")
        withUnsafeBytes(of: value) { append(bytes: $0) }
    }

    /// A named section: restoring checks the name and that the section was read exactly.
    public mutating func section(_ name: String, _ body: (inout StateEncoder) -> Void) {
        var inner = StateEncoder()
        body(&inner)
        append(name)
        append(bytes: inner.bytes)
    }
}
