#if canImport(Glibc)
import Glibc
#endif

/// Self-announce after a migration (as QEMU's): a RARP request from the guest's MAC on
/// its tap, so switches and bridges learn at once that the guest is behind this port now.
extension VirtioNetworkDevice {
    /// Ethertype of RARP (RFC 903).
    static let rarpEthertype: UInt16 = 0x8035

    /// The frame: broadcast, from the guest's MAC, a RARP "request reverse" (opcode 3)
    /// for its own hardware address, zero protocol addresses, padded to 60 bytes.
    static func announcement(from mac: MACAddress) -> [UInt8] {
        let address = mac.array
        var frame = [UInt8](repeating: 0xff, count: 6) + address + [UInt8(rarpEthertype >> 8), UInt8(rarpEthertype & 0xff)]
        frame += [0, 1, 0x08, 0x00, 6, 4, 0, 3]  // Ethernet, IPv4, lengths, opcode 3
        frame += address + [0, 0, 0, 0] + address + [0, 0, 0, 0]
        return frame + [UInt8](repeating: 0, count: 60 - frame.count)
    }

    /// Sends one announcement into the tap (behind a zero virtio-net header); a tap that
    /// cannot take it now is no reason to fail, the next announcement may get through.
    @discardableResult
    public func announce() -> Bool {
        let bytes = [UInt8](repeating: 0, count: TapDevice.headerSize) + Self.announcement(from: macAddress)
        return bytes.withUnsafeBytes { write(tap.fileDescriptor, $0.baseAddress, $0.count) } == bytes.count
    }
}
