/// A buffer the driver handed to the device: guest-physical `address` and the host
/// memory it maps to, already checked to lie inside guest RAM.
public struct GuestBuffer: Sendable {
    public let address: UInt64
    public let bytes: UnsafeMutableRawBufferPointer

    public var count: Int { bytes.count }
}

extension UnsafeMutableRawBufferPointer: @retroactive @unchecked Sendable {}

/// One request from the driver: the head descriptor's index (what goes back in the used
/// ring) and its buffers, device-readable ones first as the spec requires.
public struct DescriptorChain: Sendable {
    public let head: UInt16
    public let readable: [GuestBuffer]
    public let writable: [GuestBuffer]

    public var readableCount: Int { readable.reduce(0) { $0 + $1.count } }
    public var writableCount: Int { writable.reduce(0) { $0 + $1.count } }

    /// Copies up to `count` device-readable bytes starting `offset` bytes into the chain.
    public func read(offset: Int = 0, count: Int) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(min(count, readableCount))
        var skip = offset
        for buffer in readable where result.count < count {
            if skip >= buffer.count {
                skip -= buffer.count
                continue
            }
            let take = min(buffer.count - skip, count - result.count)
            result.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer.bytes[skip..<(skip + take)]))
            skip = 0
        }
        return result
    }

    /// Copies `data` into the device-writable buffers starting `offset` bytes in;
    /// returns how many bytes fit.
    @discardableResult
    public func write(_ data: some Collection<UInt8>, offset: Int = 0) -> Int {
        var skip = offset
        var source = data[...]
        var written = 0
        for buffer in writable where !source.isEmpty {
            if skip >= buffer.count {
                skip -= buffer.count
                continue
            }
            let take = min(buffer.count - skip, source.count)
            UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[skip..<(skip + take)]).copyBytes(from: source.prefix(take))
            source = source.dropFirst(take)
            written += take
            skip = 0
        }
        return written
    }
}
