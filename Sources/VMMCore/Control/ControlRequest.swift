import DeviceOptions

/// A request on the control socket: a word, and for `snapshot` and `migrate` its
/// arguments, per line.
public enum ControlRequest: Equatable, Sendable {
    case status, pause, resume, shutdown, stop, reboot
    /// `stats`: the host kernel's counters of the VM and its vCPUs.
    case statistics
    /// `snapshot DIR [memory-only]`: save the VM into the new folder DIR (an absolute path).
    case snapshot(directory: String, memoryOnly: Bool)
    /// `migrate PATH [max-downtime=MS] [bandwidth=MBPS] [deadline=S] [copy-storage]`.
    case migrate(MigrationOptions)
    /// `migrate-cancel`: give up a migration that has not committed.
    case migrateCancel
    /// `balloon SIZE`: ask the guest to give SIZE bytes of its RAM to the balloon.
    case balloon(target: UInt64)
    /// `fence MS`, `fence until=NS` or `fence off`: stop the VM at a deadline unless extended.
    case fence(FenceRequest)
    /// `limit disk INDEX SETTINGS`: replace disk INDEX's rate limit (`bps=..,iops=..`, `none`).
    case limitDisk(index: Int, RateLimitOption)
    /// `limit net INDEX SETTINGS`: replace both directions' limits of NIC INDEX
    /// (`rx-bps=..,tx-pps=..`, `none`); a direction not named becomes unlimited.
    case limitNetwork(index: Int, receive: RateLimitOption, transmit: RateLimitOption)

    /// Longest line accepted, newline excluded; a client that sends more is cut off.
    public static let maximumLineLength = 4096

    private static let words: [String: ControlRequest] = [
        "status": .status, "pause": .pause, "resume": .resume, "shutdown": .shutdown, "stop": .stop,
        "reboot": .reboot, "migrate-cancel": .migrateCancel, "stats": .statistics,
    ]
    private static let expected =
        "status, stats, pause, resume, shutdown, stop, reboot, snapshot, migrate, migrate-cancel, balloon, fence, limit"

    /// Parses one line without its newline; spaces, tabs and a CR around the words are
    /// ignored (a terminal or socat may send CRLF).
    public static func parse(_ line: some Collection<UInt8>) -> Result<ControlRequest, ControlError> {
        let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0d }
        let fields = Array(line).split(whereSeparator: isBlank).map { String(decoding: $0, as: UTF8.self) }
        guard let word = fields.first else {
            return .failure(ControlError(.badRequest, "empty request; expected one of \(expected)"))
        }
        if word == "snapshot" { return parseSnapshot(Array(fields.dropFirst())) }
        if word == "migrate" { return parseMigrate(Array(fields.dropFirst())) }
        if word == "balloon" { return parseBalloon(Array(fields.dropFirst())) }
        if word == "fence" { return FenceRequest.parse(Array(fields.dropFirst())).map { .fence($0) } }
        if word == "limit" { return parseLimit(Array(fields.dropFirst())) }
        if fields.count == 1, let request = words[word] { return .success(request) }
        guard words[word] == nil else {
            return .failure(ControlError(.badRequest, "'\(word)' takes no arguments"))
        }
        // Echo a bounded prefix only: the line is untrusted and may be 4 KiB of anything.
        let shown = word.count > 40 ? word.prefix(40) + "..." : word
        return .failure(ControlError(.badRequest, "unknown request '\(shown)'; expected one of \(expected)"))
    }

    private static func parseSnapshot(_ arguments: [String]) -> Result<ControlRequest, ControlError> {
        let usage = "usage: snapshot DIR [memory-only], DIR an absolute path that does not exist yet"
        guard let directory = arguments.first, arguments.count <= 2 else {
            return .failure(ControlError(.badRequest, usage))
        }
        guard directory.hasPrefix("/") else {
            return .failure(ControlError(.badRequest, "snapshot folder '\(directory)' is not absolute; \(usage)"))
        }
        switch arguments.dropFirst().first {
        case nil: return .success(.snapshot(directory: directory, memoryOnly: false))
        case "memory-only": return .success(.snapshot(directory: directory, memoryOnly: true))
        case let other?: return .failure(ControlError(.badRequest, "unknown snapshot option '\(other.prefix(40))'; \(usage)"))
        }
    }

    private static func parseBalloon(_ arguments: [String]) -> Result<ControlRequest, ControlError> {
        let usage = "usage: balloon SIZE, SIZE the memory to take from the guest (0, or a size such as 256M)"
        guard arguments.count == 1 else { return .failure(ControlError(.badRequest, usage)) }
        guard let target = BalloonOption.parseSize(arguments[0]) else {
            return .failure(ControlError(.badRequest, "'\(arguments[0].prefix(40))' is not a size; \(usage)"))
        }
        return .success(.balloon(target: target))
    }

    private static func parseLimit(_ arguments: [String]) -> Result<ControlRequest, ControlError> {
        let usage = "usage: limit disk INDEX bps=B,bps-burst=B,iops=N,iops-burst=N | "
            + "limit net INDEX rx-bps=B,rx-pps=N,tx-bps=B,tx-pps=N (each with -burst), or none for no limit"
        guard arguments.count == 3, ["disk", "net"].contains(arguments[0]), let index = Int(arguments[1]), index >= 0 else {
            return .failure(ControlError(.badRequest, usage))
        }
        let items = arguments[2] == "none" ? [] : arguments[2].split(separator: ",").map(String.init)
        let option = "limit \(arguments[0]) \(index)"
        do throws(DeviceOptionError) {
            var builders = arguments[0] == "disk"
                ? [DiskOption.rateLimitBuilder()]
                : [NetworkOption.rateLimitBuilder(direction: "rx"), NetworkOption.rateLimitBuilder(direction: "tx")]
            for item in items {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                var taken = false
                for position in builders.indices where !taken && parts.count == 2 {
                    taken = try builders[position].take(parts[0], parts[1], in: arguments[2], option: option)
                }
                guard taken else { throw DeviceOptionError("\(option): unknown setting '\(item.prefix(40))'; \(usage)") }
            }
            let limits = try builders.map { (builder) throws(DeviceOptionError) in try builder.finish(in: arguments[2], option: option) }
            return .success(limits.count == 1
                ? .limitDisk(index: index, limits[0]) : .limitNetwork(index: index, receive: limits[0], transmit: limits[1]))
        } catch {
            return .failure(ControlError(.badRequest, error.message))
        }
    }

    private static func parseMigrate(_ arguments: [String]) -> Result<ControlRequest, ControlError> {
        let usage = "usage: migrate PATH [max-downtime=MS] [bandwidth=MBPS] [deadline=S] [copy-storage], "
            + "PATH the destination's absolute incoming socket path"
        guard let path = arguments.first else { return .failure(ControlError(.badRequest, usage)) }
        guard path.hasPrefix("/") else {
            return .failure(ControlError(.badRequest, "migration socket '\(path.prefix(40))' is not absolute; \(usage)"))
        }
        var options = MigrationOptions(path: path)
        for argument in arguments.dropFirst() {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            let number = parts.count == 2 ? Double(parts[1]) : nil
            let valid = number.map { $0.isFinite && $0 >= 0 && $0 <= 1e9 } ?? false
            switch (parts[0], number) {
            case ("copy-storage", _) where parts.count == 1:
                options.copyStorage = true
            case ("max-downtime", let value?) where valid:
                options.maximumDowntime = value / 1000
            case ("bandwidth", let value?) where valid && value > 0:
                options.bandwidth = value * 1e6
            case ("deadline", let value?) where valid && value > 0:
                options.deadline = value
            case ("max-downtime", _), ("bandwidth", _), ("deadline", _):
                return .failure(ControlError(
                    .badRequest, "'\(argument.prefix(60))' needs a number (bandwidth and deadline above 0); \(usage)"))
            default:
                return .failure(ControlError(.badRequest, "unknown migrate option '\(argument.prefix(40))'; \(usage)"))
            }
        }
        return .success(.migrate(options))
    }
}
