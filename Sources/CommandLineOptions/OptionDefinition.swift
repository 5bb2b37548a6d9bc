/// One named option of a command: a flag (`--no-pit`, `-v`) or an option that takes a
/// value (`--kernel PATH`, `--kernel=PATH`).
///
/// Options are compared by their long name, which is unique within a command.
public struct OptionDefinition: Sendable, Equatable {
    /// The long name without its dashes: `kernel` for `--kernel`.
    public let name: String
    /// A one-letter name for `-v`; only flags have one.
    public let shortName: Character?
    /// What the value is called in help (`<path>`); nil for a flag.
    public let valueName: String?
    /// The value when the option is not given, shown in help unless it is empty.
    public let defaultValue: String?
    /// Whether the command cannot run without it; shown in the usage line.
    public let isRequired: Bool
    /// Whether it may be given more than once, each value kept in order. Otherwise the
    /// last one given counts.
    public let isRepeatable: Bool
    /// One paragraph for help; it is wrapped to the terminal's 80 columns.
    public let help: String

    /// A flag: present or not; it takes no value.
    public static func flag(_ name: String, short: Character? = nil, help: String) -> OptionDefinition {
        OptionDefinition(
            name: name, shortName: short, valueName: nil, defaultValue: nil, isRequired: false, isRepeatable: false,
            help: help)
    }

    /// An option with a value, written `--name value` or `--name=value`; `valueName`
    /// defaults to `name`.
    public static func option(
        _ name: String, valueName: String? = nil, default defaultValue: String? = nil, required: Bool = false,
        repeatable: Bool = false, help: String
    ) -> OptionDefinition {
        OptionDefinition(
            name: name, shortName: nil, valueName: valueName ?? name, defaultValue: defaultValue, isRequired: required,
            isRepeatable: repeatable, help: help)
    }

    /// Whether it takes a value.
    public var isFlag: Bool { valueName == nil }

    /// How help and messages write it: `--kernel <kernel>`, `-v, --verbose`, `--no-pit`.
    public var label: String {
        let long = valueName.map { "--\(name) <\($0)>" } ?? "--\(name)"
        return shortName.map { "-\($0), \(long)" } ?? long
    }

    /// How messages name it: `--kernel <kernel>` or `--verbose`.
    var reference: String { valueName.map { "--\(name) <\($0)>" } ?? "--\(name)" }

    public static func == (left: OptionDefinition, right: OptionDefinition) -> Bool { left.name == right.name }

    /// The help text and, unless it is empty, the default: `... (default: 256M)`.
    var helpWithDefault: String {
        guard let defaultValue, !defaultValue.isEmpty else { return help }
        return "\(help) (default: \(defaultValue))"
    }
}
