import DeviceOptions

extension DiskConfiguration {
    /// Parses one `--disk PATH[,readonly][,bps=..][,iops=..]` value (`readonly=on|off` too).
    public init(parsing text: String) throws(VMMError) {
        do {
            let option = try DiskOption(parsing: text)
            self.init(path: option.path, readOnly: option.readOnly, rateLimit: option.rateLimit)
        } catch {
            throw .invalidConfiguration(error.message)
        }
    }

    /// Parses every `--disk` value, in order; the same image twice is an error.
    public static func parsing(_ texts: [String]) throws(VMMError) -> [DiskConfiguration] {
        let disks = try texts.map { (text) throws(VMMError) in try DiskConfiguration(parsing: text) }
        do {
            try DiskOption.checkUnique(disks.map { DiskOption(path: $0.path, readOnly: $0.readOnly) })
        } catch {
            throw .invalidConfiguration(error.message)
        }
        return disks
    }
}
