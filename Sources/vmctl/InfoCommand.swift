import ArgumentParser
import Sizes
import VMMAPI

/// `vmctl info`: one VM's definition and state.
struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a VM's definition and state.",
        discussion: "--json prints the API's VMInfo object: {\"definition\": {...}, \"state\": ..., ...}.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument

    @Flag(help: "Print JSON (pretty, sorted keys).")
    var json = false

    func run() async throws {
        let info = try await global.client().get(Routes.vm(vm.name), as: VMInfo.self)
        print(json ? try JSONOutput.document(info) : Self.fields(info))
    }

    static func fields(_ info: VMInfo) -> String {
        let definition = info.definition
        var fields: [(key: String, value: String)] = [
            ("name", definition.name),
            ("state", info.state.rawValue),
        ]
        if let host = info.host { fields.append(("host", host)) }
        fields += [
            ("cpus", String(definition.cpus)),
            ("memory", ByteSize.format(definition.memory)),
            ("kernel", definition.kernel),
            ("initrd", definition.initrd ?? "-"),
            ("cmdline", definition.cmdline),
            ("autostart", definition.autostart ? "yes" : "no"),
        ]
        fields += definition.disks.map {
            ("disk", $0.path + ($0.readOnly ? " (read-only)" : "") + rateLimit($0.rateLimit, "", ops: "iops"))
        }
        fields += definition.networks.map {
            ("net", "tap \($0.tap ?? "(named by the kernel)"), mac \($0.mac ?? "-")"
                + rateLimit($0.receiveLimit, "rx ", ops: "pps") + rateLimit($0.transmitLimit, "tx ", ops: "pps"))
        }
        fields.append(("rng", definition.rng ? "yes" : "no"))
        fields.append(("ha", definition.ha ? "yes, priority \(definition.haPriority)" : "no"))
        if let balloon = definition.balloon { fields.append(("balloon", balloonSettings(balloon))) }
        if definition.mergePages { fields.append(("merge pages", "yes (KSM)")) }
        if let limits = definition.limits {
            let settings = [
                limits.cpus.map { "cpu \($0) CPUs" }, limits.cpuWeight.map { "weight \($0)" },
                limits.memoryLimit == true ? "memory limit on" : nil,
            ].compactMap { $0 }
            fields.append(("limits", settings.joined(separator: ", ")))
        }
        if let balloon = info.balloon { fields += balloonFields(balloon) }
        if let pid = info.pid { fields.append(("pid", String(pid))) }
        if let uptime = info.uptime { fields.append(("uptime", Uptime.format(uptime))) }
        if let lastExit = info.lastExit { fields.append(("last exit", lastExit)) }
        if let operation = info.operation {
            fields.append(("operation", operation.migration.map { "migrating \(MigrationProgress.line($0))" } ?? operation.description))
        }
        return TextTable.fields(fields)
    }

    private static func size(_ bytes: UInt64) -> String { bytes == 0 ? "0" : ByteSize.format(bytes) }

    /// `, 10M/s 500 iops` for a rate limit (bursts left out); empty without one.
    private static func rateLimit(_ limit: VMRateLimit?, _ prefix: String, ops: String) -> String {
        guard let limit else { return "" }
        let parts = [limit.bytesPerSecond.map { "\(ByteSize.format($0))/s" }, limit.opsPerSecond.map { "\($0) \(ops)" }]
        return ", \(prefix)limit " + parts.compactMap { $0 }.joined(separator: " ")
    }

    private static func balloonSettings(_ balloon: VMBalloon) -> String {
        var settings = ["target \(size(balloon.target))"]
        if balloon.deflateOnOOM { settings.append("deflate-on-oom") }
        if balloon.freePageReporting { settings.append("free-page-reporting") }
        return settings.joined(separator: ", ")
    }

    /// What the running VM's balloon holds and what its guest says about its memory.
    private static func balloonFields(_ balloon: VMBalloonStatus) -> [(key: String, value: String)] {
        var fields = [
            ("balloon now", "\(size(balloon.actual)) of \(size(balloon.target)) target"),
            ("returned", "\(size(balloon.inflated)) inflated, \(size(balloon.reported)) reported free"),
        ]
        if let free = balloon.guestFreeMemory, let total = balloon.guestTotalMemory {
            let available = balloon.guestAvailableMemory.map { ", \(size($0)) available" } ?? ""
            fields.append(("guest memory", "\(size(free)) free of \(size(total))\(available)"))
        }
        return fields
    }
}
