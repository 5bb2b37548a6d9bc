import Synchronization

/// The guest pages vmm's own device threads wrote (virtio-blk reads, virtio-net receives,
/// entropy), which KVM's dirty log cannot see because no vCPU wrote them. Off unless a
/// snapshot or migration is copying memory while the guest runs.
final class DeviceWriteLog: Sendable {
    static let pageSize: UInt64 = 4096

    private let enabled = Atomic<Bool>(false)
    /// One bit per page of the memfd, by offset.
    private let pages = Mutex<[UInt64]>([])
    private let pageCount: Int

    init(size: UInt64) {
        pageCount = Int((size + Self.pageSize - 1) / Self.pageSize)
    }

    var isEnabled: Bool { enabled.load(ordering: .acquiring) }

    func start() {
        pages.withLock { $0 = [UInt64](repeating: 0, count: (pageCount + 63) / 64) }
        enabled.store(true, ordering: .releasing)
    }

    func stop() {
        enabled.store(false, ordering: .releasing)
        pages.withLock { $0 = [] }
    }

    /// Marks `offsets` (in the memfd) as written.
    func note(_ offsets: Range<UInt64>) {
        guard isEnabled, !offsets.isEmpty else { return }
        let first = Int(offsets.lowerBound / Self.pageSize), last = Int((offsets.upperBound - 1) / Self.pageSize)
        pages.withLock { bits in
            guard last < bits.count * 64 else { return }
            for page in first...last { bits[page / 64] |= 1 << UInt64(page % 64) }
        }
    }

    /// The pages written since the last call (memfd offsets), and forgets them.
    func take() -> [Range<UInt64>] {
        let bits = pages.withLock { bits -> [UInt64] in
            defer { bits = [UInt64](repeating: 0, count: bits.count) }
            return bits
        }
        return Self.ranges(bitmap: bits, base: 0)
    }

    /// Page ranges for the set bits of `bitmap`, offset by `base` bytes.
    static func ranges(bitmap: [UInt64], base: UInt64) -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        for (wordIndex, word) in bitmap.enumerated() where word != 0 {
            var remaining = word
            while remaining != 0 {
                let bit = UInt64(remaining.trailingZeroBitCount)
                remaining &= remaining - 1
                let start = base + (UInt64(wordIndex) * 64 + bit) * pageSize
                if let last = ranges.last, last.upperBound == start {
                    ranges[ranges.count - 1] = last.lowerBound..<start + pageSize
                } else {
                    ranges.append(start..<start + pageSize)
                }
            }
        }
        return ranges
    }
}
