/// The most recent console output, so a client that attaches late sees what the guest
/// printed before (a boot log, a login prompt).
public struct ConsoleBacklog: Sendable {
    public static let defaultCapacity = 64 * 1024

    private var storage: [UInt8]
    private var next = 0
    private var isFull = false

    public init(capacity: Int = defaultCapacity) {
        precondition(capacity > 0)
        storage = [UInt8](repeating: 0, count: capacity)
    }

    /// Records one byte, forgetting the oldest once full; allocation-free for the vCPU path.
    public mutating func append(_ byte: UInt8) {
        storage[next] = byte
        next += 1
        if next == storage.count {
            next = 0
            isFull = true
        }
    }

    /// The remembered bytes, oldest first.
    public var contents: [UInt8] {
        isFull ? Array(storage[next...] + storage[..<next]) : Array(storage[..<next])
    }
}
