/// The status byte a virtio-blk request ends with (virtio 1.x §5.2.6).
enum VirtioBlockStatus: UInt8, Sendable {
    case ok = 0
    case ioError = 1
    case unsupported = 2
}

/// One virtio-blk request (virtio 1.x §5.2.6): the 16-byte header (type, reserved,
/// sector), data buffers and a status byte, the last device-writable byte of the chain.
///
/// Everything here comes from the guest. Parsing checks directions, lengths and sector
/// ranges against the configuration the driver was promised, with overflow-safe
/// arithmetic, so that execution only ever sees requests inside the disk; a request that
/// fails a check becomes `.reject` and is answered without touching the disk.
struct VirtioBlockRequest: Sendable {
    /// A discard or write-zeroes range: {sector u64, num_sectors u32, flags u32}.
    struct Segment: Equatable, Sendable {
        var sector: UInt64
        var sectors: UInt32
        var unmap: Bool
    }

    enum Operation: Sendable {
        case read(sector: UInt64, into: [UnsafeMutableRawBufferPointer])
        case write(sector: UInt64, from: [UnsafeMutableRawBufferPointer])
        case flush
        case getID(into: [UnsafeMutableRawBufferPointer])
        case discard([Segment])
        case writeZeroes([Segment])
        /// Answer `status` and do nothing else; `reason` is for the log.
        case reject(VirtioBlockStatus, reason: String)
    }

    enum RequestType: UInt32 {
        case read = 0
        case write = 1
        case flush = 4
        case getID = 8
        case discard = 11
        case writeZeroes = 13
    }

    static let headerSize = 16
    static let segmentSize = 16
    static let identifierSize = 20

    let head: UInt16
    let operation: Operation
    /// One byte of guest memory, or nil when the chain has no device-writable byte at all
    /// (then nothing can be reported and the request is only returned to the driver).
    let status: UnsafeMutableRawBufferPointer?

    /// The data bytes a read or write moves (what a rate limit's bytes count); 0 for the rest.
    var dataBytes: Int {
        switch operation {
        case .read(_, let buffers), .write(_, let buffers): return buffers.reduce(0) { $0 + $1.count }
        default: return 0
        }
    }

    init(chain: DescriptorChain, configuration: VirtioBlockConfiguration, readOnly: Bool) {
        head = chain.head
        var incoming = chain.writable.map(\.bytes).filter { !$0.isEmpty }
        guard let last = incoming.popLast() else {
            status = nil
            operation = .reject(.ioError, reason: "no device-writable status byte")
            return
        }
        status = UnsafeMutableRawBufferPointer(rebasing: last[(last.count - 1)...])
        if last.count > 1 { incoming.append(UnsafeMutableRawBufferPointer(rebasing: last[..<(last.count - 1)])) }
        operation = Self.operation(
            chain: chain, incoming: incoming, configuration: configuration, readOnly: readOnly)
    }

    private static func operation(
        chain: DescriptorChain, incoming: [UnsafeMutableRawBufferPointer],
        configuration: VirtioBlockConfiguration, readOnly: Bool
    ) -> Operation {
        guard chain.readableCount >= headerSize else {
            return .reject(.ioError, reason: "header of \(chain.readableCount) bytes, expected \(headerSize)")
        }
        let header = chain.read(count: headerSize)
        let type: UInt32 = header.littleEndian(at: 0)
        let sector: UInt64 = header.littleEndian(at: 8)
        let outgoing = dropping(headerSize, from: chain.readable.map(\.bytes))
        guard let known = RequestType(rawValue: type) else {
            return .reject(.unsupported, reason: "unknown request type \(type)")
        }
        if readOnly && [.write, .discard, .writeZeroes].contains(known) {
            return .reject(.ioError, reason: "write to a read-only disk")
        }
        switch known {
        case .read:
            guard outgoing.isEmpty else { return .reject(.ioError, reason: "read with device-readable data") }
            if let problem = check(incoming, sector: sector, configuration) { return .reject(.ioError, reason: problem) }
            return .read(sector: sector, into: incoming)
        case .write:
            guard incoming.isEmpty else { return .reject(.ioError, reason: "write with device-writable data") }
            if let problem = check(outgoing, sector: sector, configuration) { return .reject(.ioError, reason: problem) }
            return .write(sector: sector, from: outgoing)
        case .flush:
            guard outgoing.isEmpty, incoming.isEmpty else { return .reject(.ioError, reason: "flush with data") }
            return .flush
        case .getID:
            guard outgoing.isEmpty else { return .reject(.ioError, reason: "GET_ID with device-readable data") }
            return .getID(into: incoming)
        case .discard, .writeZeroes:
            guard incoming.isEmpty else { return .reject(.ioError, reason: "\(known) with device-writable data") }
            return segments(chain: chain, type: known, configuration)
        }
    }

    /// Why the data buffers of a read or write cannot be served, or nil if they can.
    private static func check(
        _ buffers: [UnsafeMutableRawBufferPointer], sector: UInt64, _ configuration: VirtioBlockConfiguration
    ) -> String? {
        guard buffers.count <= Int(configuration.segmentMaximum) else {
            return "\(buffers.count) data segments, more than seg_max \(configuration.segmentMaximum)"
        }
        guard buffers.allSatisfy({ $0.count <= Int(configuration.sizeMaximum) }) else {
            return "a data segment is larger than size_max \(configuration.sizeMaximum)"
        }
        let length = buffers.reduce(0) { $0 + $1.count }
        guard UInt64(length) % VirtioBlockConfiguration.sectorSize == 0 else {
            return "data length \(length) is not a multiple of 512"
        }
        guard configuration.contains(sector: sector, sectors: UInt64(length) / VirtioBlockConfiguration.sectorSize)
        else {
            return "\(length) bytes at sector \(sector) pass the end of the disk (\(configuration.capacity) sectors)"
        }
        return nil
    }

    private static func segments(
        chain: DescriptorChain, type: RequestType, _ configuration: VirtioBlockConfiguration
    ) -> Operation {
        let isDiscard = type == .discard
        let length = chain.readableCount - headerSize
        let limit = Int(isDiscard ? configuration.maximumDiscardSegments : configuration.maximumWriteZeroesSegments)
        let sectorLimit = isDiscard ? configuration.maximumDiscardSectors : configuration.maximumWriteZeroesSectors
        guard length > 0, length % segmentSize == 0 else {
            return .reject(.ioError, reason: "\(type) payload of \(length) bytes is not whole segments")
        }
        // Checked before copying: the guest chooses the length.
        guard length / segmentSize <= limit else {
            return .reject(.ioError, reason: "\(length / segmentSize) \(type) segments, more than \(limit)")
        }
        let payload = chain.read(offset: headerSize, count: length)
        var segments: [Segment] = []
        for offset in stride(from: 0, to: length, by: segmentSize) {
            let sector: UInt64 = payload.littleEndian(at: offset)
            let sectors: UInt32 = payload.littleEndian(at: offset + 8)
            let flags: UInt32 = payload.littleEndian(at: offset + 12)
            // Unknown flags, and unmap on a discard, are UNSUPP by the spec (§5.2.6.2).
            guard flags & ~1 == 0, !(isDiscard && flags & 1 != 0) else {
                return .reject(.unsupported, reason: "\(type) flags 0x\(String(flags, radix: 16))")
            }
            guard sectors <= sectorLimit else {
                return .reject(.ioError, reason: "\(type) of \(sectors) sectors, more than \(sectorLimit)")
            }
            guard configuration.contains(sector: sector, sectors: UInt64(sectors)) else {
                return .reject(.ioError, reason: "\(type) of \(sectors) sectors at \(sector) passes the end of the disk")
            }
            segments.append(Segment(sector: sector, sectors: sectors, unmap: flags & 1 != 0))
        }
        return isDiscard ? .discard(segments) : .writeZeroes(segments)
    }

    /// `buffers` without their first `count` bytes.
    private static func dropping(
        _ count: Int, from buffers: [UnsafeMutableRawBufferPointer]
    ) -> [UnsafeMutableRawBufferPointer] {
        var skip = count
        var result: [UnsafeMutableRawBufferPointer] = []
        for buffer in buffers {
            if skip >= buffer.count {
                skip -= buffer.count
                continue
            }
            result.append(UnsafeMutableRawBufferPointer(rebasing: buffer[skip...]))
            skip = 0
        }
        return result
    }
}

extension [UInt8] {
    fileprivate func littleEndian<T: FixedWidthInteger>(at offset: Int) -> T {
        var value: T = 0
        for index in 0..<MemoryLayout<T>.size { value |= T(self[offset + index]) << (8 * index) }
        return value
    }
}
