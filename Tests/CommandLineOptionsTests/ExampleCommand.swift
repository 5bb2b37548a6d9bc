import CommandLineOptions

/// A program shaped like vmm, for the tests: `tool` with `boot` (default) and `load DIR`.
enum ExampleCommand {
    static let kernel = OptionDefinition.option("kernel", required: true, help: "Kernel to boot.")
    static let cpus = OptionDefinition.option("cpus", default: "1", help: "Number of vCPUs.")
    static let commandLine = OptionDefinition.option("cmdline", default: "", help: "Kernel command line.")
    static let initrd = OptionDefinition.option("initrd", help: "Initial ramdisk.")
    static let disk = OptionDefinition.option(
        "disk", valueName: "path[,readonly]", repeatable: true, help: "Attach a disk; repeatable, in order.")
    static let noPit = OptionDefinition.flag("no-pit", help: "Leave out the PIT.")
    static let verbose = OptionDefinition.flag("verbose", short: "v", help: "Log more.")
    static let quiet = OptionDefinition.flag("quiet", short: "q", help: "Log less.")
    static let directory = ArgumentDefinition("dir", help: "The folder.")

    static let boot = CommandDefinition(
        name: "boot", abstract: "Boot a kernel.", discussion: "Ctrl-A x quits.",
        options: [kernel, cpus, commandLine, initrd, disk, noPit, verbose, quiet])
    static let load = CommandDefinition(
        name: "load", abstract: "Load a folder.", arguments: [directory], options: [disk, verbose])
    static let root = CommandDefinition(
        name: "tool", abstract: "Run things.", discussion: "Exit status: 0 on success.", subcommands: [boot, load],
        defaultSubcommand: "boot")

    /// The parsed arguments of `arguments`, failing the test on help.
    static func parsed(_ arguments: [String]) throws -> ParsedArguments {
        guard case .run(let parsed) = try root.parse(arguments) else { throw ExpectedRun() }
        return parsed
    }

    /// The help text `arguments` ask for, failing the test on anything else.
    static func help(_ arguments: [String]) throws -> String {
        guard case .help(let text) = try root.parse(arguments) else { throw ExpectedHelp() }
        return text
    }

    /// The usage error `arguments` cause, as the program prints it; nil if there is none.
    static func usageError(_ arguments: [String]) -> String? {
        do {
            _ = try root.parse(arguments)
            return nil
        } catch {
            return error.description
        }
    }

    struct ExpectedRun: Error {}
    struct ExpectedHelp: Error {}
}
