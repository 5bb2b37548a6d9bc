import ArgumentParser

/// `vmctl pause`.
struct PauseCommand: VMActionCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause a running VM: its vCPUs stop, its memory stays.")
    static let action = "pause"
    static let done = "paused"

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument
}
