/// Reads one command line against a `CommandDefinition` (see `CommandDefinition.parse`).
struct CommandLineParser {
    let command: CommandDefinition
    /// The full name so far: `vmm`, then `vmm run`.
    let commandName: String

    func parse(_ arguments: ArraySlice<String>) throws(UsageError) -> CommandLineRequest {
        command.subcommands.isEmpty ? try parseOwn(arguments) : try selectSubcommand(arguments)
    }

    private func selectSubcommand(_ arguments: ArraySlice<String>) throws(UsageError) -> CommandLineRequest {
        if let first = arguments.first {
            if let subcommand = command.subcommand(named: first) {
                return try nested(subcommand).parse(arguments.dropFirst())
            }
            if first == "help" {
                guard let name = arguments.dropFirst().first else { return .help(command.helpText(commandName: commandName)) }
                guard let subcommand = command.subcommand(named: name) else {
                    throw UsageError("unknown subcommand '\(name)'", commandName: commandName)
                }
                return .help(subcommand.helpText(commandName: "\(commandName) \(name)"))
            }
        }
        if !arguments.isEmpty && arguments.allSatisfy(Self.asksForHelp) {
            return .help(command.helpText(commandName: commandName))
        }
        guard let name = command.defaultSubcommand, let subcommand = command.subcommand(named: name) else {
            throw UsageError(
                arguments.first.map { "unknown subcommand '\($0)'" } ?? "missing subcommand", commandName: commandName)
        }
        return try nested(subcommand).parse(arguments)
    }

    private func nested(_ subcommand: CommandDefinition) -> CommandLineParser {
        CommandLineParser(command: subcommand, commandName: "\(commandName) \(subcommand.name)")
    }

    private func parseOwn(_ arguments: ArraySlice<String>) throws(UsageError) -> CommandLineRequest {
        if arguments.prefix(while: { $0 != "--" }).contains(where: Self.asksForHelp) {
            return .help(command.helpText(commandName: commandName))
        }
        var given: [String: [String]] = [:]
        var positionals: [String] = []
        var rest = arguments
        while let argument = rest.popFirst() {
            if argument == "--" {
                positionals += rest
                break
            }
            if !Self.isOptionLike(argument) {
                positionals.append(argument)
            } else if argument.hasPrefix("--") {
                let (option, value) = try longOption(argument, taking: &rest)
                given[option.name, default: []].append(value)
            } else {
                for letter in argument.dropFirst() {
                    guard let option = command.options.first(where: { $0.shortName == letter }) else {
                        throw error("unknown option '-\(letter)'")
                    }
                    given[option.name, default: []].append("")
                }
            }
        }
        if positionals.count > command.arguments.count {
            throw error("unexpected argument '\(positionals[command.arguments.count])'")
        }
        if positionals.count < command.arguments.count {
            throw error("missing expected argument '\(command.arguments[positionals.count].label)'")
        }
        if let missing = command.options.first(where: { $0.isRequired && given[$0.name] == nil }) {
            throw error("missing expected argument '\(missing.reference)'")
        }
        return .run(ParsedArguments(command: command, commandName: commandName, given: given, positionals: positionals))
    }

    /// `--name`, `--name=value` or `--name value` (the value taken from `rest`).
    private func longOption(
        _ argument: String, taking rest: inout ArraySlice<String>
    ) throws(UsageError) -> (OptionDefinition, String) {
        let parts = argument.dropFirst(2).split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        let inlineValue = parts.count == 2 ? String(parts[1]) : nil
        guard let option = command.options.first(where: { $0.name == name }) else {
            let hint = suggestion(for: name).map { "; did you mean '--\($0)'?" } ?? ""
            throw error("unknown option '--\(name)'\(hint)")
        }
        if option.isFlag {
            guard let inlineValue else { return (option, "") }
            throw error("the option '--\(name)' takes no value, but '\(inlineValue)' was given")
        }
        if let inlineValue { return (option, inlineValue) }
        guard let next = rest.first, !Self.isOptionLike(next) else {
            let hint = rest.first.map { "; a value starting with '-' is written --\(name)=\($0)" } ?? ""
            throw error("missing value for '\(option.reference)'\(hint)")
        }
        rest.removeFirst()
        return (option, next)
    }

    /// The declared option closest to a mistyped `name`: one it begins, or one at most two
    /// edits away.
    private func suggestion(for name: String) -> String? {
        let names = command.options.map(\.name)
        if let completion = names.first(where: { $0.hasPrefix(name) }), !name.isEmpty { return completion }
        let (distance, closest) = names.map { (Self.editDistance(name, $0), $0) }.min { $0.0 < $1.0 } ?? (.max, "")
        return distance <= 2 ? closest : nil
    }

    /// Levenshtein distance: the fewest insertions, deletions and substitutions from `a` to `b`.
    private static func editDistance(_ a: String, _ b: String) -> Int {
        let b = Array(b)
        var previous = Array(0...b.count)
        for (i, letterA) in a.enumerated() {
            var current = [i + 1]
            for (j, letterB) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (letterA == letterB ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }

    private func error(_ message: String) -> UsageError { UsageError(message, commandName: commandName) }

    /// Options start with `-`; a lone `-` (standard input, by convention) and negative
    /// numbers do not.
    private static func isOptionLike(_ argument: String) -> Bool {
        argument.hasPrefix("-") && argument != "-" && Double(argument) == nil
    }

    /// `--help`, or a group of short flags with `h` in it (`-h`, `-vh`).
    private static func asksForHelp(_ argument: String) -> Bool {
        argument == "--help" || (isOptionLike(argument) && !argument.hasPrefix("--") && argument.contains("h"))
    }
}
