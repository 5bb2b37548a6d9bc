/// The most recent console output, so a client that attaches late sees what the guest
/// printed before (a boot log, a login prompt).
public struct ConsoleBacklog: Sendable {
    public static let defaultCapacity = 64 * 1024

    private let capacity: Int
    private var storage: [UInt8] = []
    /// Where the next byte goes once `storage` is full.
    private var next = 0

    public init(capacity: Int = defaultCapacity) {
        precondition(capacity > 0)
        self.capacity = capacity
        // Reserved, not filled: its pages are touched as output arrives, so a VM that prints
        // little costs little (64 KiB each at thousands of VMs per host otherwise).
        storage.reserveCapacity(capacity)
    }

    /// Records one byte, forgetting the oldest once full; allocation-free for the vCPU path.
    public mutating func append(_ byte: UInt8) {
        guard storage.count == capacity else { return storage.append(byte) }
        storage[next] = byte
        next += 1
        if next == capacity { next = 0 }
    }

    /// The remembered bytes, oldest first.
    public var contents: [UInt8] {
        storage.count < capacity ? storage : Array(storage[next...] + storage[..<next])
    }
}
