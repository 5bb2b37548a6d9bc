#if canImport(Glibc)
import Glibc
#endif

/// The VM generation ID (Microsoft's VMGENID, which Linux uses to reseed its RNG): 16
/// random bytes that change whenever the VM is cloned.
public enum GenerationID {
    public static func random() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 16)
        // getentropy fills up to 256 bytes at once and only fails on a bad buffer.
        let status = bytes.withUnsafeMutableBytes { getentropy($0.baseAddress!, $0.count) }
        precondition(status == 0, "getentropy failed: errno \(errno)")
        return bytes
    }

    /// The GUID text form, e.g. 8c1d1a3e-....
    public static func format(_ bytes: [UInt8]) -> String {
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(hex[hex.index(hex.startIndex, offsetBy: range.lowerBound)..<hex.index(hex.startIndex, offsetBy: range.upperBound)])
        }
        return parts.joined(separator: "-")
    }
}
