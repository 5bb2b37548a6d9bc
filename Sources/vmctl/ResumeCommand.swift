import ArgumentParser

/// `vmctl resume`.
struct ResumeCommand: VMActionCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused VM.")
    static let action = "resume"
    static let done = "resumed"

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument
}
