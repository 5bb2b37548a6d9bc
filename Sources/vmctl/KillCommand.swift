import ArgumentParser

/// `vmctl kill`.
struct KillCommand: VMActionCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Stop a VM at once, as pulling the plug does (same as stop --force).")
    static let action = "kill"
    static let done = "killed"

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument
}
