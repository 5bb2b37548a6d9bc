#if canImport(Glibc)
import Glibc
#endif
import CTap

/// The offloads a tap's reader accepts (`TUNSETOFFLOAD`): which frames the kernel may
/// leave with a partial checksum or unsegmented.
public struct TapOffloads: OptionSet, Sendable {
    public let rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let checksum = TapOffloads(rawValue: UInt32(TUN_F_CSUM))
    public static let tcpSegmentation4 = TapOffloads(rawValue: UInt32(TUN_F_TSO4))
    public static let tcpSegmentation6 = TapOffloads(rawValue: UInt32(TUN_F_TSO6))
    public static let tcpSegmentationECN = TapOffloads(rawValue: UInt32(TUN_F_TSO_ECN))
}
