/// A positional argument of a command (`vmm restore DIR`): required, in the order the
/// command lists them.
public struct ArgumentDefinition: Sendable, Equatable {
    /// What help and messages call it: `dir` is shown as `<dir>`.
    public let name: String
    /// One paragraph for help.
    public let help: String

    public init(_ name: String, help: String) {
        self.name = name
        self.help = help
    }

    /// `<dir>`.
    public var label: String { "<\(name)>" }
}
