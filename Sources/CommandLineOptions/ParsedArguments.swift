/// The options and arguments of a parsed command line, looked up by their definitions.
public struct ParsedArguments: Sendable {
    /// The command that runs.
    public let command: CommandDefinition
    /// Its full name, program first (`vmm run`): what messages and help call it.
    public let commandName: String
    /// Each option given, by name: its values in order (flags: one empty value per use).
    let given: [String: [String]]
    /// The positional arguments, one per `command.arguments` entry.
    let positionals: [String]

    /// Whether the flag was given.
    public func flag(_ option: OptionDefinition) -> Bool {
        precondition(option.isFlag, "--\(option.name) is not a flag")
        return given[declared(option).name] != nil
    }

    /// The option's last value, else its default; nil when it has neither.
    public func value(_ option: OptionDefinition) -> String? {
        given[declared(option).name]?.last ?? option.defaultValue
    }

    /// Every value of a repeatable option, in the order given.
    public func values(_ option: OptionDefinition) -> [String] {
        precondition(option.isRepeatable, "--\(option.name) is not repeatable")
        return given[declared(option).name] ?? []
    }

    /// The value of a required option or one with a default, converted to `T`.
    public func value<T: LosslessStringConvertible>(_ option: OptionDefinition, as type: T.Type) throws(UsageError) -> T {
        guard let text = value(option) else { preconditionFailure("--\(option.name) has neither a default nor is it required") }
        guard let value = T(text) else {
            throw UsageError("the value '\(text)' is invalid for '\(option.reference)'", commandName: commandName)
        }
        return value
    }

    /// The positional argument's value.
    public func argument(_ argument: ArgumentDefinition) -> String {
        guard let index = command.arguments.firstIndex(of: argument) else {
            preconditionFailure("\(commandName) has no argument <\(argument.name)>")
        }
        return positionals[index]
    }

    private func declared(_ option: OptionDefinition) -> OptionDefinition {
        precondition(command.options.contains(option), "\(commandName) has no option --\(option.name)")
        return option
    }
}
