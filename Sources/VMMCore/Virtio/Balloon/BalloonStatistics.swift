/// One report from the guest's statistics queue: `struct virtio_balloon_stat` entries
/// (a 16-bit tag, a 64-bit value, packed), memory amounts in bytes.
public struct BalloonStatistics: Equatable, Sendable {
    /// Tag → value, only the tags the spec names (virtio 1.x §5.5.6.3); others are dropped.
    public private(set) var values: [UInt16: UInt64] = [:]

    /// The tags the spec names, in tag order, with the names the control protocol uses.
    public static let names: [(tag: UInt16, name: String)] = [
        (0, "swap_in"), (1, "swap_out"), (2, "major_faults"), (3, "minor_faults"), (4, "free_memory"),
        (5, "total_memory"), (6, "available_memory"), (7, "disk_caches"), (8, "hugetlb_allocations"),
        (9, "hugetlb_failures"),
    ]

    static let entrySize = 10
    /// More than the spec's tags can fill; what a driver sends beyond it is not read.
    static let maximumEntries = 64

    public init(values: [UInt16: UInt64] = [:]) {
        self.values = values
    }

    /// Parses a report; a partial trailing entry is ignored, the last value of a tag wins.
    init(report bytes: [UInt8]) {
        let known = Set(Self.names.map(\.tag))
        var offset = 0
        while offset + Self.entrySize <= bytes.count {
            let tag = UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
            var value: UInt64 = 0
            for index in 0..<8 { value |= UInt64(bytes[offset + 2 + index]) << (8 * index) }
            if known.contains(tag) { values[tag] = value }
            offset += Self.entrySize
        }
    }

    public subscript(name: String) -> UInt64? {
        Self.names.first { $0.name == name }.flatMap { values[$0.tag] }
    }
}
