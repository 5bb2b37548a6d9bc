#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The MC146818 CMOS real-time clock at 0x70/0x71, reporting the host's UTC time in BCD
/// and 24-hour mode, with the other 128 CMOS bytes as plain storage.
public final class CMOSClock: PortIODevice {
    public static let port: UInt16 = 0x70
    public static let portCount: UInt16 = 2

    struct State {
        var index: UInt8 = 0
        var storage = [UInt8](repeating: 0, count: 128)
    }

    let state: Mutex<State>

    public init() {
        var initial = State()
        initial.storage[0x0A] = 0x26  // 32.768 kHz time base, 1024 Hz periodic rate
        initial.storage[0x0B] = 0x02  // 24-hour mode, BCD, no interrupts
        initial.storage[0x0D] = 0x80  // battery good: the time is valid
        state = Mutex(initial)
    }

    public func read(offset: UInt16, size: Int) -> UInt32 {
        state.withLock { s in
            guard offset == 1 else { return UInt32(s.index) }
            if let field = Self.timeField(s.index) { return UInt32(Self.bcd(field)) }
            return UInt32(s.storage[Int(s.index)])
        }
    }

    public func write(offset: UInt16, size: Int, value: UInt32) {
        let byte = UInt8(truncatingIfNeeded: value)
        state.withLock { s in
            if offset == 0 {
                s.index = byte & 0x7f  // bit 7 masks NMIs on a PC; nothing to mask here
            } else if Self.timeField(s.index) == nil && s.index != 0x0D {
                s.storage[Int(s.index)] = s.index == 0x0A ? byte & 0x7f : byte
            }
        }
    }

    /// The current value of a clock register, or nil for a plain storage byte.
    private static func timeField(_ index: UInt8) -> Int? {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        switch index {
        case 0x00: return Int(parts.tm_sec)
        case 0x02: return Int(parts.tm_min)
        case 0x04: return Int(parts.tm_hour)
        case 0x06: return Int(parts.tm_wday) + 1
        case 0x07: return Int(parts.tm_mday)
        case 0x08: return Int(parts.tm_mon) + 1
        case 0x09: return Int(parts.tm_year) % 100
        case 0x32: return (Int(parts.tm_year) + 1900) / 100
        default: return nil
        }
    }

    private static func bcd(_ value: Int) -> UInt8 { UInt8((value / 10) << 4 | (value % 10)) }
}
