/// A command line that cannot be run: an unknown option, a missing or malformed value,
/// an unexpected argument. Programs report it on one line of standard error and exit with
/// their bad-input status.
public struct UsageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, naming the argument: `unknown option '--frobnicate'`.
    public let message: String
    /// The command whose help explains the options: `vmm run`.
    public let commandName: String

    public init(_ message: String, commandName: String) {
        self.message = message
        self.commandName = commandName
    }

    /// The message and where to read more: `unknown option '--x' (see 'vmm run --help')`.
    public var description: String { "\(message) (see '\(commandName) --help')" }
}
