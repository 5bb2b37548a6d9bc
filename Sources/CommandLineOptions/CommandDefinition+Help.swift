extension CommandDefinition {
    /// Help as `-h` shows it, laid out like swift-argument-parser's for 80 columns:
    /// overview, discussion, usage, then arguments, options and subcommands, each entry's
    /// text starting at column 26.
    public func helpText(commandName: String) -> String {
        var sections = [HelpLayout.wrap("OVERVIEW: \(abstract)", width: HelpLayout.width)]
        if !discussion.isEmpty { sections.append(HelpLayout.wrap(discussion, width: HelpLayout.width)) }
        sections.append("USAGE: \(usage(commandName: commandName))")
        if !arguments.isEmpty {
            sections.append("ARGUMENTS:\n" + arguments.map { HelpLayout.entry($0.label, $0.help) }.joined())
        }
        let optionEntries = options.map { HelpLayout.entry($0.label, $0.helpWithDefault) }
        sections.append("OPTIONS:\n" + optionEntries.joined() + HelpLayout.entry(Self.helpLabel, Self.helpHelp))
        if !subcommands.isEmpty {
            let entries = subcommands.map { subcommand in
                HelpLayout.entry(
                    subcommand.name + (subcommand.name == defaultSubcommand ? " (default)" : ""), subcommand.abstract)
            }
            sections.append("SUBCOMMANDS:\n" + entries.joined())
            sections.append("  See '\(commandName) help <subcommand>' for detailed help.")
        }
        let text = sections.map { $0.hasSuffix("\n") ? String($0.dropLast()) : $0 }.joined(separator: "\n\n")
        // swift-argument-parser ends a command's own help, not a list of subcommands, with a blank line.
        return subcommands.isEmpty ? text + "\n" : text
    }

    /// `vmm run [<options>] --kernel <kernel>`, `vmm restore [<options>] <dir>`, `vmm <subcommand>`.
    public func usage(commandName: String) -> String {
        guard subcommands.isEmpty else { return "\(commandName) <subcommand>" }
        let required = options.filter(\.isRequired).map(\.reference)
        return ([commandName, "[<options>]"] + required + arguments.map(\.label)).joined(separator: " ")
    }

    static let helpLabel = "-h, --help"
    static let helpHelp = "Show help information."
}
