/// One NIC as `vmm run --net`, `vmctl create --net` and the daemon's `vmm` command line
/// spell it: `tap[=NAME][,mac=MAC]`, settings in any order, plus rate limits for each
/// direction (`rx-` what the guest receives, `tx-` what it sends): `bps`, `pps` (frames per
/// second) and their `-burst`, e.g. `tap=vm0,tx-bps=10M,rx-pps=1000`.
///
/// `tap=NAME` attaches to the tap NAME (vmm creates it, for its own lifetime, when it does
/// not exist); `tap` alone makes vmm create a tap whose name the kernel chooses. Without
/// `mac=`, the NIC gets `MACAddressSyntax.generated(seed:)` of its tap's name (vmm uses the
/// name the kernel chose for `tap` alone; vmmd, which must know the address in advance,
/// uses `macAddress(fallbackSeed:)`).
public struct NetworkOption: Equatable, Sendable {
    /// The tap's name; nil lets the kernel choose one.
    public var tapName: String?
    /// The guest's MAC address (six bytes); nil means a generated one.
    public var macAddress: [UInt8]?
    /// Frames the guest receives; unlimited by default.
    public var receiveLimit: RateLimitOption
    /// Frames the guest sends; unlimited by default.
    public var transmitLimit: RateLimitOption

    /// Linux interface names have at most IFNAMSIZ - 1 bytes.
    public static let maximumTapNameLength = 15

    public init(
        tapName: String?, macAddress: [UInt8]? = nil, receiveLimit: RateLimitOption = RateLimitOption(),
        transmitLimit: RateLimitOption = RateLimitOption()
    ) {
        self.tapName = tapName
        self.macAddress = macAddress
        self.receiveLimit = receiveLimit
        self.transmitLimit = transmitLimit
    }

    /// Creates the builder of one direction's limit: `rx` or `tx` (keys `rx-bps`, `rx-bps-burst`,
    /// `rx-pps`, `rx-pps-burst`, and the same with `tx-`).
    public static func rateLimitBuilder(direction: String) -> RateLimitOption.Builder {
        RateLimitOption.Builder(prefix: "\(direction)-", operationsKey: "pps")
    }

    /// Parses `tap[=NAME][,mac=MAC]`; `option` names the option in messages.
    public init(parsing text: String, option: String = "--net") throws(DeviceOptionError) {
        let usage = "write \(option) tap=NAME[,mac=MAC][,rx-bps=B][,rx-pps=N][,tx-bps=B][,tx-pps=N] (each limit "
            + "with an optional -burst), or \(option) tap for a tap named by the kernel"
        var tap: String??
        var mac: [UInt8]?
        var receive = Self.rateLimitBuilder(direction: "rx")
        var transmit = Self.rateLimitBuilder(direction: "tx")
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = parts[0]
            let value = parts.count == 2 ? String(parts[1]) : nil
            if let value {
                if try receive.take(String(key), value, in: text, option: option) { continue }
                if try transmit.take(String(key), value, in: text, option: option) { continue }
            }
            switch (key, value) {
            case ("tap", _):
                guard tap == nil else { throw DeviceOptionError("\(option) '\(text)': tap is given twice; \(usage)") }
                if let value { try Self.checkTapName(value, field: "\(option) tap") }
                tap = .some(value)
            case ("mac", let value?):
                guard mac == nil else { throw DeviceOptionError("\(option) '\(text)': mac is given twice; \(usage)") }
                mac = try MACAddressSyntax.parse(value, field: "\(option) mac")
            case ("mac", nil):
                throw DeviceOptionError("\(option) '\(text)': mac needs an address, e.g. mac=02:00:00:00:00:01")
            default:
                throw DeviceOptionError("\(option) '\(text)': unknown setting '\(item)'; \(usage)")
            }
        }
        guard let tap else { throw DeviceOptionError("\(option) '\(text)': no backend; \(usage)") }
        self.init(
            tapName: tap, macAddress: mac, receiveLimit: try receive.finish(in: text, option: option),
            transmitLimit: try transmit.finish(in: text, option: option))
    }

    /// The text `--net` takes for this NIC.
    public var optionValue: String {
        ([tapName.map { "tap=\($0)" } ?? "tap"] + (macAddress.map { ["mac=\(MACAddressSyntax.format($0))"] } ?? [])
            + limitItems).joined(separator: ",")
    }

    /// The rate-limit settings of both directions, as `--net` takes them.
    public var limitItems: [String] {
        receiveLimit.optionItems(prefix: "rx-", operationsKey: "pps")
            + transmitLimit.optionItems(prefix: "tx-", operationsKey: "pps")
    }

    /// The MAC address the guest sees: the given one, else one generated from the tap's
    /// name, else from `fallbackSeed` (vmmd uses `<vm>/net<index>`, so VMs with
    /// kernel-named taps differ and keep their address across runs).
    public func macAddress(fallbackSeed: String) -> [UInt8] {
        macAddress ?? MACAddressSyntax.generated(seed: tapName ?? fallbackSeed)
    }

    /// Throws unless `name` is a name Linux accepts for an interface (1 to 15 bytes, not
    /// `.` or `..`, no `/`, `:` or white space) that `--net` can carry (no `,`) and that
    /// the kernel takes literally (no `%`, which it expands in templates like `tap%d`).
    public static func checkTapName(_ name: String, field: String) throws(DeviceOptionError) {
        guard !name.isEmpty else {
            throw DeviceOptionError("\(field): the tap name is empty; write tap alone to let the kernel choose a name")
        }
        guard name.utf8.count <= maximumTapNameLength else {
            throw DeviceOptionError(
                "\(field) '\(name)': a tap name has at most \(maximumTapNameLength) bytes (Linux's IFNAMSIZ), "
                    + "not \(name.utf8.count); choose a shorter one")
        }
        guard name != ".", name != ".." else {
            throw DeviceOptionError("\(field) '\(name)' is not a valid interface name; choose another, e.g. vmtap0")
        }
        if let bad = name.unicodeScalars.first(where: {
            "/:,%".unicodeScalars.contains($0) || $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7f
        }) {
            let shown = bad.value < 0x21 || bad.value == 0x7f ? "U+\(String(bad.value, radix: 16, uppercase: true))" : "'\(bad)'"
            throw DeviceOptionError(
                "\(field) '\(name)': a tap name cannot contain \(shown) (nor '/', ':', ',', '%' or white space); "
                    + "choose another, e.g. vmtap0")
        }
    }

    /// Throws if two NICs name the same tap or the same MAC address.
    public static func checkUnique(_ networks: [NetworkOption], field: String = "--net") throws(DeviceOptionError) {
        var taps = Set<String>()
        var macs = Set<[UInt8]>()
        for network in networks {
            if let tap = network.tapName, !taps.insert(tap).inserted {
                throw DeviceOptionError("\(field) tap=\(tap) is given twice; a tap can back only one NIC")
            }
            if let mac = network.macAddress, !macs.insert(mac).inserted {
                throw DeviceOptionError(
                    "\(field) mac=\(MACAddressSyntax.format(mac)) is given twice; each NIC needs its own address")
            }
        }
    }
}
