/// A command as its users see it: name, help texts, options, positional arguments and
/// subcommands. Programs declare their commands with these and call `parse(_:)`; help
/// (`helpText(commandName:)`) and the man page (`manualPage(date:)`) come from the same
/// declarations.
///
/// A command either has subcommands (`vmm run`, `vmm restore`) or options and arguments
/// of its own, not both.
public struct CommandDefinition: Sendable {
    /// The word that selects it (`run`); for the root, the program's name (`vmm`).
    public let name: String
    /// One line: what it does.
    public let abstract: String
    /// Paragraphs of help after the abstract; may be empty.
    public let discussion: String
    public let arguments: [ArgumentDefinition]
    public let options: [OptionDefinition]
    public let subcommands: [CommandDefinition]
    /// The subcommand that runs when the command line does not start with a subcommand's
    /// name: with `run` as default, `vmm --kernel k` is `vmm run --kernel k`.
    public let defaultSubcommand: String?

    /// A command with options and arguments of its own.
    public init(
        name: String, abstract: String, discussion: String = "", arguments: [ArgumentDefinition] = [],
        options: [OptionDefinition]
    ) {
        precondition(Set(options.map(\.name)).count == options.count, "\(name): an option name is declared twice")
        precondition(!options.contains { $0.name == "help" || $0.shortName == "h" }, "\(name): -h, --help is built in")
        self.init(
            name: name, abstract: abstract, discussion: discussion, arguments: arguments, options: options,
            subcommands: [], defaultSubcommand: nil)
    }

    /// A command that only selects one of `subcommands`.
    public init(
        name: String, abstract: String, discussion: String = "", subcommands: [CommandDefinition],
        defaultSubcommand: String? = nil
    ) {
        precondition(
            defaultSubcommand.map { name in subcommands.contains { $0.name == name } } ?? true,
            "\(name): the default subcommand is not one of its subcommands")
        self.init(
            name: name, abstract: abstract, discussion: discussion, arguments: [], options: [],
            subcommands: subcommands, defaultSubcommand: defaultSubcommand)
    }

    private init(
        name: String, abstract: String, discussion: String, arguments: [ArgumentDefinition],
        options: [OptionDefinition], subcommands: [CommandDefinition], defaultSubcommand: String?
    ) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.arguments = arguments
        self.options = options
        self.subcommands = subcommands
        self.defaultSubcommand = defaultSubcommand
    }

    /// The subcommand called `name`, if there is one.
    public func subcommand(named name: String) -> CommandDefinition? {
        subcommands.first { $0.name == name }
    }

    /// Reads a command line (without the program's name): help if `-h`/`--help` appears
    /// before `--` or it starts with `help`, else the command to run with its values.
    ///
    /// Options are written `--name value`, `--name=value` or, for flags, `--name`; flags
    /// with a short name also `-v`, several at once as `-vh`. An argument starting with
    /// `-` is never taken as the value of the option before it (write `--name=-x`), except
    /// a negative number. After `--` every argument is positional.
    public func parse(_ arguments: [String]) throws(UsageError) -> CommandLineRequest {
        try CommandLineParser(command: self, commandName: name).parse(arguments[...])
    }
}
