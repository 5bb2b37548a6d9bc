/// Parses sizes such as `256M`, `1G`, `512K` or a plain number of bytes.
public enum ByteSize {
    /// The size in bytes, or nil when `text` is not a size (or is zero, or overflows).
    public static func parse(_ text: String) -> UInt64? {
        var digits = Substring(text)
        var multiplier: UInt64 = 1
        if let last = digits.last?.uppercased() {
            switch last {
            case "K": multiplier = 1 << 10
            case "M": multiplier = 1 << 20
            case "G": multiplier = 1 << 30
            case "T": multiplier = 1 << 40
            default: break
            }
            if multiplier != 1 {
                digits = digits.dropLast()
                if digits.last == "i" || digits.last == "I" { return nil }
            }
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = UInt64(digits), value > 0
        else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }
}
