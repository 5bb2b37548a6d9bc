/// One disk as `vmm run --disk`, `vmctl create --disk` and the daemon's `vmm` command line
/// spell it: `PATH[,readonly]`, where `readonly=on` and `readonly=off` are accepted too.
///
/// Settings follow the path after commas, so a path containing `,` cannot be written; the
/// daemon refuses such a path in a definition for the same reason (it could not pass it on).
public struct DiskOption: Equatable, Sendable {
    public var path: String
    public var readOnly: Bool

    public init(path: String, readOnly: Bool = false) {
        self.path = path
        self.readOnly = readOnly
    }

    /// Parses `PATH[,readonly|,readonly=on|,readonly=off]`; `option` names the option in messages.
    public init(parsing text: String, option: String = "--disk") throws(DeviceOptionError) {
        var items = text.split(separator: ",", omittingEmptySubsequences: false)
        let path = String(items.removeFirst())
        var readOnly: Bool?
        for item in items {
            let value: Bool
            switch item {
            case "readonly", "readonly=on": value = true
            case "readonly=off": value = false
            default:
                throw DeviceOptionError(
                    "\(option) '\(text)': unknown setting '\(item)'; write \(option) PATH[,readonly] "
                        + "(a path containing ',' cannot be given: rename or link the image)")
            }
            guard readOnly == nil else {
                throw DeviceOptionError("\(option) '\(text)': readonly is given twice; give it once")
            }
            readOnly = value
        }
        guard !path.isEmpty else {
            throw DeviceOptionError("\(option) '\(text)': no image path; write \(option) PATH[,readonly]")
        }
        try Self.checkPath(path, field: option)
        self.init(path: path, readOnly: readOnly ?? false)
    }

    /// The text `--disk` takes for this disk.
    public var optionValue: String { readOnly ? "\(path),readonly" : path }

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
