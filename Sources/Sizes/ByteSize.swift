/// Sizes as people type and read them: `256M`, `1G`, `512K` or a plain number of bytes.
/// Shared by `vmm` and `vmctl`, which must not link each other's dependencies.
public enum ByteSize {
    private static let units: [(suffix: Character, shift: UInt64)] = [("T", 40), ("G", 30), ("M", 20), ("K", 10)]

    /// The size in bytes, or nil when `text` is not a size (or is zero, or overflows).
    public static func parse(_ text: String) -> UInt64? {
        var digits = Substring(text)
        var multiplier: UInt64 = 1
        if let last = digits.last, let unit = units.first(where: { $0.suffix == Character(last.uppercased()) }) {
            multiplier = 1 << unit.shift
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = UInt64(digits), value > 0
        else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    /// `bytes` in the largest unit it is a whole number of (`512M`, `1G`), else with one
    /// decimal in the largest unit it reaches (`1.5G`).
    public static func format(_ bytes: UInt64) -> String {
        for unit in units where bytes >= 1 << unit.shift {
            if bytes % (1 << unit.shift) == 0 {
                return "\(bytes >> unit.shift)\(unit.suffix)"
            }
            let tenths = (bytes * 10 + (1 << unit.shift) / 2) >> unit.shift
            return "\(tenths / 10).\(tenths % 10)\(unit.suffix)"
        }
        return "\(bytes)"
    }
}
