/// What a command line asks for: help, or running one command.
public enum CommandLineRequest: Sendable {
    /// `-h`, `--help` or `help [SUBCOMMAND]`: print this text on standard output and exit 0.
    case help(String)
    /// Run the command with these options and arguments.
    case run(ParsedArguments)
}
