extension CommandDefinition {
    /// A man page (section 1, man(7) macros) from the same texts as the help: name and
    /// abstract, synopsis, description, then each subcommand with its options.
    public func manualPage() -> String {
        var lines = [".TH \(name.uppercased()) 1", ".SH NAME", "\(name) \\- \(ManualText.escape(abstract))"]
        lines += [".SH SYNOPSIS"]
        let commands = subcommands.isEmpty ? [(name, self)] : subcommands.map { ("\(name) \($0.name)", $0) }
        for (commandName, command) in commands {
            lines += [".PP", ManualText.escape(command.usage(commandName: commandName))]
        }
        if !discussion.isEmpty { lines += [".SH DESCRIPTION"] + ManualText.paragraphs(discussion) }
        for (commandName, command) in commands where !command.options.isEmpty || !command.arguments.isEmpty {
            lines += [".SH \"\(commandName.uppercased())\""]
            if commandName != name {
                if command.name == defaultSubcommand {
                    lines += [".PP", "The default: \\fB\(name)\\fR without a subcommand runs it."]
                }
                lines += ManualText.paragraphs(command.abstract)
            }
            if !command.discussion.isEmpty { lines += ManualText.paragraphs(command.discussion) }
            for argument in command.arguments {
                lines += [".TP", "\\fI\(ManualText.escape(argument.label))\\fR", ManualText.escape(argument.help)]
            }
            for option in command.options {
                lines += [".TP", "\\fB\(ManualText.escape(option.label))\\fR", ManualText.escape(option.helpWithDefault)]
            }
            lines += [".TP", "\\fB\(ManualText.escape(Self.helpLabel))\\fR", Self.helpHelp]
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
