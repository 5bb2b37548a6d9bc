/// Ways a driver can break the split-virtqueue rules. Every one is the guest's fault: the
/// device stops using the queue and asks for a reset; the host is never at risk.
public enum VirtqueueError: Error, Equatable, Sendable, CustomStringConvertible {
    case sizeNotPowerOfTwo(UInt16)
    case sizeTooLarge(size: UInt16, maximum: UInt16)
    case misaligned(area: String, address: UInt64)
    case areaOutsideGuestMemory(area: String, address: UInt64, length: Int)
    /// The available index moved by more than the queue holds.
    case availableIndexJump(from: UInt16, to: UInt16)
    case descriptorIndexOutOfRange(UInt16)
    /// More descriptors than the queue (or indirect table) holds: a loop or an oversized chain.
    case chainTooLong(limit: Int)
    case bufferOutsideGuestMemory(address: UInt64, length: UInt32)
    case readableAfterWritable
    case nestedIndirectTable
    case indirectWithNext
    case invalidIndirectTableLength(UInt32)
    case indirectNotNegotiated

    public var description: String {
        switch self {
        case .sizeNotPowerOfTwo(let size): return "queue size \(size) is not a power of two"
        case .sizeTooLarge(let size, let maximum): return "queue size \(size) exceeds the device's maximum \(maximum)"
        case .misaligned(let area, let address): return "\(area) at 0x\(String(address, radix: 16)) is misaligned"
        case .areaOutsideGuestMemory(let area, let address, let length):
            return "\(area) (\(length) bytes at 0x\(String(address, radix: 16))) is outside guest memory"
        case .availableIndexJump(let from, let to): return "available index jumped from \(from) to \(to)"
        case .descriptorIndexOutOfRange(let index): return "descriptor index \(index) is out of range"
        case .chainTooLong(let limit): return "descriptor chain longer than \(limit) (a loop?)"
        case .bufferOutsideGuestMemory(let address, let length):
            return "buffer of \(length) bytes at 0x\(String(address, radix: 16)) is outside guest memory"
        case .readableAfterWritable: return "device-readable descriptor after a device-writable one"
        case .nestedIndirectTable: return "indirect descriptor inside an indirect table"
        case .indirectWithNext: return "indirect descriptor with the NEXT flag"
        case .invalidIndirectTableLength(let length): return "indirect table length \(length) is not a multiple of 16"
        case .indirectNotNegotiated: return "indirect descriptor without VIRTIO_F_INDIRECT_DESC"
        }
    }
}
