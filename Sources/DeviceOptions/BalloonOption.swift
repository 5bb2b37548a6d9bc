import Sizes

/// The memory balloon as `vmm run --balloon` and the daemon's `vmm` command line spell it:
/// `SIZE[,deflate-on-oom=on|off][,free-page-reporting=on|off][,stats=SECONDS]`.
///
/// SIZE is how much of the guest's RAM the balloon should hold (taken from the guest and
/// given back to the host), `0` for an empty balloon. Deflate-on-OOM and free page
/// reporting are on unless turned off; `stats` is how often the guest is asked for fresh
/// memory statistics (0: only the report the driver makes when it starts).
public struct BalloonOption: Equatable, Sendable {
    public static let defaultStatisticsInterval: UInt32 = 5
    /// A day: a longer period is surely a typo, and seconds must fit a timer.
    public static let maximumStatisticsInterval: UInt32 = 86_400

    public var target: UInt64
    public var deflateOnOOM: Bool
    public var freePageReporting: Bool
    /// Seconds between statistics requests; 0 asks only once.
    public var statisticsInterval: UInt32

    public init(
        target: UInt64 = 0, deflateOnOOM: Bool = true, freePageReporting: Bool = true,
        statisticsInterval: UInt32 = defaultStatisticsInterval
    ) {
        self.target = target
        self.deflateOnOOM = deflateOnOOM
        self.freePageReporting = freePageReporting
        self.statisticsInterval = statisticsInterval
    }

    static let syntax = "SIZE[,deflate-on-oom=on|off][,free-page-reporting=on|off][,stats=SECONDS]"

    /// Parses the option's value; `option` names it in messages.
    public init(parsing text: String, option: String = "--balloon") throws(DeviceOptionError) {
        var items = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let size = items.removeFirst()
        guard let target = Self.parseSize(size) else {
            throw DeviceOptionError(
                "\(option) '\(text)': '\(size)' is not a size; write \(option) \(Self.syntax), e.g. \(option) 0 or \(option) 256M")
        }
        self.init(target: target)
        var seen = Set<String>()
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                throw DeviceOptionError("\(option) '\(text)': '\(item)' is not NAME=VALUE; write \(option) \(Self.syntax)")
            }
            guard seen.insert(parts[0]).inserted else {
                throw DeviceOptionError("\(option) '\(text)': \(parts[0]) is given twice; give it once")
            }
            switch (parts[0], parts[1]) {
            case ("deflate-on-oom", "on"): deflateOnOOM = true
            case ("deflate-on-oom", "off"): deflateOnOOM = false
            case ("free-page-reporting", "on"): freePageReporting = true
            case ("free-page-reporting", "off"): freePageReporting = false
            case ("stats", let value):
                guard let seconds = UInt32(value), seconds <= Self.maximumStatisticsInterval else {
                    throw DeviceOptionError(
                        "\(option) '\(text)': stats=\(value) is not a number of seconds from 0 to \(Self.maximumStatisticsInterval)")
                }
                statisticsInterval = seconds
            default:
                throw DeviceOptionError("\(option) '\(text)': unknown setting '\(item)'; write \(option) \(Self.syntax)")
            }
        }
    }

    /// Throws unless the balloon fits in `memorySize` bytes of guest RAM.
    public func check(memorySize: UInt64, option: String = "--balloon") throws(DeviceOptionError) {
        try Self.checkTarget(target, memorySize: memorySize, field: option)
    }

    /// Throws unless a balloon of `target` bytes fits in `memorySize` bytes of guest RAM.
    public static func checkTarget(_ target: UInt64, memorySize: UInt64, field: String) throws(DeviceOptionError) {
        guard target <= memorySize else {
            throw DeviceOptionError(
                "\(field) \(ByteSize.format(target)) is more than the guest's \(ByteSize.format(memorySize)) of RAM: "
                    + "the balloon can hold at most all of it")
        }
    }

    /// `0` or a size such as `256M`; nil otherwise.
    public static func parseSize(_ text: String) -> UInt64? {
        text == "0" ? 0 : ByteSize.parse(text)
    }

    /// The text `--balloon` takes for this balloon; defaults are left out.
    public var optionValue: String {
        let unit = [("T", 40), ("G", 30), ("M", 20), ("K", 10)].first { target > 0 && target % (1 << $0.1) == 0 }
        var text = unit.map { "\(target >> $0.1)\($0.0)" } ?? String(target)
        if !deflateOnOOM { text += ",deflate-on-oom=off" }
        if !freePageReporting { text += ",free-page-reporting=off" }
        if statisticsInterval != Self.defaultStatisticsInterval { text += ",stats=\(statisticsInterval)" }
        return text
    }
}
