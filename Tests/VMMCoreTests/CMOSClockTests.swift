import Foundation
import Testing
@testable import VMMCore

@Suite struct CMOSClockTests {
    let cmos = CMOSClock()

    func register(_ index: UInt8) -> UInt8 {
        cmos.write(offset: 0, size: 1, value: UInt32(index))
        return UInt8(cmos.read(offset: 1, size: 1))
    }

    func decimal(_ bcd: UInt8) -> Int? {
        guard bcd >> 4 <= 9, bcd & 0xf <= 9 else { return nil }
        return Int(bcd >> 4) * 10 + Int(bcd & 0xf)
    }

    func clockDate() -> Date? {
        var parts = DateComponents()
        parts.timeZone = TimeZone(identifier: "UTC")
        guard let century = decimal(register(0x32)), let year = decimal(register(0x09)),
              let month = decimal(register(0x08)), let day = decimal(register(0x07)),
              let hour = decimal(register(0x04)), let minute = decimal(register(0x02)),
              let second = decimal(register(0x00))
        else { return nil }
        parts.year = century * 100 + year
        parts.month = month
        parts.day = day
        parts.hour = hour
        parts.minute = minute
        parts.second = second
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: parts)
    }

    @Test func reportsTheHostsUTCTimeInBCD() throws {
        // Two tries, in case a read straddles a minute or hour rollover.
        let matches = (0..<2).contains { _ in
            guard let date = clockDate() else { return false }
            return abs(date.timeIntervalSinceNow) < 5
        }
        #expect(matches)
    }

    @Test func dayOfWeekMatchesTheHost() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let weekday = calendar.component(.weekday, from: Date())  // 1 = Sunday, as CMOS
        let cmosWeekday = try #require(decimal(register(0x06)))
        #expect(cmosWeekday == weekday || cmosWeekday % 7 + 1 == weekday)
    }

    @Test func statusRegistersSayBCD24HourAndValid() {
        #expect(register(0x0B) & 0x06 == 0x02, "BCD (DM=0) and 24-hour")
        #expect(register(0x0D) == 0x80)
        #expect(register(0x0A) & 0x80 == 0, "no update in progress")
    }

    @Test func storageBytesHoldValuesButClockAndStatusDDoNot() {
        cmos.write(offset: 0, size: 1, value: 0x40)
        cmos.write(offset: 1, size: 1, value: 0x9C)
        #expect(register(0x40) == 0x9C)
        cmos.write(offset: 0, size: 1, value: 0x0D)
        cmos.write(offset: 1, size: 1, value: 0x00)
        #expect(register(0x0D) == 0x80)
        cmos.write(offset: 0, size: 1, value: 0x0A)
        cmos.write(offset: 1, size: 1, value: 0xA6)
        #expect(register(0x0A) == 0x26, "update-in-progress is read-only")
    }

    @Test func nmiMaskBitSelectsTheSameRegister() {
        cmos.write(offset: 0, size: 1, value: 0x41)
        cmos.write(offset: 1, size: 1, value: 0x33)
        #expect(register(0x80 | 0x41) == 0x33)
    }
}
