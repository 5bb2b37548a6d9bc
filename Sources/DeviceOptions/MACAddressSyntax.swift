/// MAC addresses as text (`02:00:5e:10:00:01`) and the addresses vmm makes up when none
/// is given.
public enum MACAddressSyntax {
    /// The six bytes of `text`: six pairs of hex digits separated by `:`. Multicast
    /// addresses (bit 0 of the first byte, which includes broadcast) and the all-zero
    /// address are refused: a NIC needs a unicast address of its own.
    public static func parse(_ text: String, field: String = "--net mac") throws(DeviceOptionError) -> [UInt8] {
        let groups = text.split(separator: ":", omittingEmptySubsequences: false)
        let bytes = groups.compactMap { $0.count == 2 ? UInt8($0, radix: 16) : nil }
        guard groups.count == 6, bytes.count == 6 else {
            throw DeviceOptionError(
                "\(field) '\(text)' is not a MAC address: write six pairs of hex digits separated by ':', e.g. 02:00:00:00:00:01")
        }
        guard bytes[0] & 1 == 0 else {
            throw DeviceOptionError(
                "\(field) '\(text)' is a multicast address (bit 0 of the first byte is set); "
                    + "a NIC needs a unicast one, e.g. 02:00:00:00:00:01")
        }
        guard bytes.contains(where: { $0 != 0 }) else {
            throw DeviceOptionError("\(field) '\(text)' is the all-zero address; give a real one, e.g. 02:00:00:00:00:01")
        }
        return bytes
    }

    /// `bytes` as six lowercase hex pairs separated by `:`.
    public static func format(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }

    /// A locally administered unicast address (first byte 0x02) whose other five bytes
    /// are a 64-bit FNV-1a hash of `seed`: the same seed gives the same address on every
    /// run and every host (Swift's `Hasher` is seeded per process, so it cannot be used).
    public static func generated(seed: String) -> [UInt8] {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in seed.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return [0x02] + (0..<5).map { UInt8(truncatingIfNeeded: hash >> (8 * $0)) }
    }
}
