import Synchronization

/// The pages of a restored VM's RAM that the guest gave back (balloon, free page
/// reporting). Their private copies are dropped, but the snapshot file the RAM maps still
/// has data there: a snapshot or migration leaves these pages out all the same.
final class DiscardedPages: Sendable {
    private static let pageSize = GuestMemory.pageSize
    /// One bit per page, by offset in the RAM.
    private let bits: Mutex<[UInt64]>

    init(size: UInt64) {
        bits = Mutex([UInt64](repeating: 0, count: Int((size / Self.pageSize + 63) / 64)))
    }

    /// Marks the whole pages of `offsets` as discarded.
    func insert(_ offsets: Range<UInt64>) {
        let first = Int(offsets.lowerBound / Self.pageSize), end = Int(offsets.upperBound / Self.pageSize)
        bits.withLock { bits in
            for page in first..<min(end, bits.count * 64) { bits[page / 64] |= 1 << UInt64(page % 64) }
        }
    }

    /// `ranges` (page-aligned offsets) without the discarded pages.
    func removing(from ranges: [Range<UInt64>]) -> [Range<UInt64>] {
        bits.withLock { bits in
            var kept: [Range<UInt64>] = []
            for range in ranges {
                var start: UInt64?
                var offset = range.lowerBound
                while offset < range.upperBound {
                    let page = Int(offset / Self.pageSize)
                    let discarded = page < bits.count * 64 && bits[page / 64] & (1 << UInt64(page % 64)) != 0
                    if discarded, let from = start {
                        kept.append(from..<offset)
                        start = nil
                    } else if !discarded, start == nil {
                        start = offset
                    }
                    offset += Self.pageSize
                }
                if let from = start { kept.append(from..<range.upperBound) }
            }
            return kept
        }
    }
}
