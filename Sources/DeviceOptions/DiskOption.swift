/// One disk as `vmm run --disk`, `vmctl create --disk` and the daemon's `vmm` command line
/// spell it: `PATH[,readonly][,bps=B][,bps-burst=B][,iops=N][,iops-burst=N]`, where
/// `readonly=on` and `readonly=off` are accepted too and the rest is the disk's rate limit.
///
/// Settings follow the path after commas, so a path containing `,` cannot be written; the
/// daemon refuses such a path in a definition for the same reason (it could not pass it on).
public struct DiskOption: Equatable, Sendable {
    public var path: String
    public var readOnly: Bool
    /// Bytes (read and written data) and requests per second; unlimited by default.
    public var rateLimit: RateLimitOption

    public init(path: String, readOnly: Bool = false, rateLimit: RateLimitOption = RateLimitOption()) {
        self.path = path
        self.readOnly = readOnly
        self.rateLimit = rateLimit
    }

    static let syntax = "PATH[,readonly][,bps=BYTES][,bps-burst=BYTES][,iops=N][,iops-burst=N]"

    /// Creates the builder of a disk's rate limit (keys `bps`, `bps-burst`, `iops`, `iops-burst`).
    public static func rateLimitBuilder() -> RateLimitOption.Builder {
        RateLimitOption.Builder(prefix: "", operationsKey: "iops")
    }

    /// Parses `PATH[,readonly|,readonly=on|,readonly=off]`; `option` names the option in messages.
    public init(parsing text: String, option: String = "--disk") throws(DeviceOptionError) {
        var items = text.split(separator: ",", omittingEmptySubsequences: false)
        let path = String(items.removeFirst())
        var readOnly: Bool?
        var limit = Self.rateLimitBuilder()
        for item in items {
            let value: Bool
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            switch item {
            case "readonly", "readonly=on": value = true
            case "readonly=off": value = false
            default:
                if parts.count == 2, try limit.take(parts[0], parts[1], in: text, option: option) { continue }
                throw DeviceOptionError(
                    "\(option) '\(text)': unknown setting '\(item)'; write \(option) \(Self.syntax) "
                        + "(a path containing ',' cannot be given: rename or link the image)")
            }
            guard readOnly == nil else {
                throw DeviceOptionError("\(option) '\(text)': readonly is given twice; give it once")
            }
            readOnly = value
        }
        guard !path.isEmpty else {
            throw DeviceOptionError("\(option) '\(text)': no image path; write \(option) \(Self.syntax)")
        }
        try Self.checkPath(path, field: option)
        self.init(path: path, readOnly: readOnly ?? false, rateLimit: try limit.finish(in: text, option: option))
    }

    /// The text `--disk` takes for this disk.
    public var optionValue: String {
        ([path] + (readOnly ? ["readonly"] : []) + rateLimit.optionItems(prefix: "", operationsKey: "iops"))
            .joined(separator: ",")
    }

    /// Throws unless `path` can be written as a `--disk` value: not empty, no `,` (which
    /// separates settings) and no NUL (which ends a command-line argument).
    public static func checkPath(_ path: String, field: String) throws(DeviceOptionError) {
        guard !path.isEmpty else { throw DeviceOptionError("\(field): the disk image path is empty") }
        guard !path.contains(",") else {
            throw DeviceOptionError(
                "\(field) '\(path)': a disk image path cannot contain ',' (it separates --disk settings); "
                    + "rename the image or link it from a path without ','")
        }
        guard !path.utf8.contains(0) else {
            throw DeviceOptionError("\(field): the disk image path contains a NUL character")
        }
    }

    /// Throws if two disks name the same image: one VM opens an image once.
    public static func checkUnique(_ disks: [DiskOption], field: String = "--disk") throws(DeviceOptionError) {
        var seen = Set<String>()
        for disk in disks where !seen.insert(disk.path).inserted {
            throw DeviceOptionError("\(field) \(disk.path) is given twice; a VM can attach an image only once")
        }
    }
}
