import ArgumentParser

/// `vmctl reboot`.
struct RebootCommand: VMActionCommand {
    static let configuration = CommandConfiguration(commandName: "reboot", abstract: "Reboot a running VM.")
    static let action = "reboot"
    static let done = "rebooting"

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument
}
